"""GenerateConfig: the options of text generation, with the one default each has.

``rnnkit generate`` takes its flags from these fields and ``rnnkit.LanguageModel.generate``
its keyword arguments; both pass them to ``LoadedLanguageModel.generate``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class GenerateConfig:
    """How a language model continues a prompt (sampling, greedy decoding or beam search)."""

    length: int = 500  # tokens to generate
    temperature: float = 0.8  # > 0; lower is more conservative
    top_k: int | None = None  # sample among the k most likely tokens; None = all
    top_p: float | None = None  # nucleus sampling: smallest set with probability >= p, in (0, 1]
    greedy: bool = False  # always take the most likely token
    beam: int = 1  # beam width; > 1 runs beam search
    length_penalty: float = 1.0  # beam score = log P / length^alpha
    num_samples: int = 1  # samples generated together (best beams with beam search)
    seed: int | None = None  # seed for reproducible samples; None = random

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
