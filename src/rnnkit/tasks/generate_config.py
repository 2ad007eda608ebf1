"""GenerateConfig: the options of text generation, with the one default each has.

``rnnkit generate`` takes its flags from these fields and ``rnnkit.LanguageModel.generate``
its keyword arguments; both pass them to ``LoadedLanguageModel.generate``. The fields are
range-checked when the config is built, so a bad number fails before a model is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rnnkit.config import check_types
from rnnkit.errors import invalid
from rnnkit.generate import Sampling
from rnnkit.validation import check_float, check_int, check_seed

MAX_LENGTH = 1_000_000  # tokens per continuation
MAX_SAMPLES = 10_000  # samples generated together (one batch)
MAX_BEAM = 1_000  # beam width
MAX_LENGTH_PENALTY = 10.0  # |alpha| in log P / length^alpha; usual values are 0.6 to 1
MAX_TOKENS_OUT = 10**8  # length * max(num_samples, beam): the texts held in memory at once


@dataclass
class GenerateConfig:
    """How a language model continues a prompt (sampling, greedy decoding or beam search)."""

    length: int = 500  # tokens to generate
    temperature: float = 0.8  # >= 1e-4; lower is more conservative; sampling only (not with greedy or beam > 1)
    top_k: int | None = None  # sample among the k most likely tokens; None = all
    top_p: float | None = None  # nucleus sampling: smallest set with probability >= p, in (0, 1]
    greedy: bool = False  # always take the most likely token (not with top_k, top_p or beam > 1)
    beam: int = 1  # beam width; > 1 runs beam search (not with greedy, top_k or top_p)
    length_penalty: float = 1.0  # beam score = log P / length^alpha; beam search only (beam > 1)
    num_samples: int = 1  # samples generated together (best beams with beam search)
    seed: int | None = None  # seed for reproducible samples; None = random

    def __post_init__(self) -> None:
        check_types(self)  # numpy numbers become Python's
        self.sampling()  # temperature, top_k, top_p
        check_int("length", self.length, 1, MAX_LENGTH)
        check_int("beam", self.beam, 1, MAX_BEAM)
        check_int("num_samples", self.num_samples, 1, MAX_SAMPLES)
        if self.length * max(self.num_samples, self.beam) > MAX_TOKENS_OUT:
            expected = f"length * max(num_samples, beam) <= {MAX_TOKENS_OUT:.0e} (length={self.length})"
            raise invalid("num_samples", self.num_samples, expected)
        check_float("length_penalty", self.length_penalty, -MAX_LENGTH_PENALTY, MAX_LENGTH_PENALTY)
        check_seed("seed", self.seed, optional=True)
        self._check_combination()

    def _check_combination(self) -> None:
        """Refuse an option the chosen decoding would ignore: greedy decoding and beam search
        exclude each other, and neither samples, so neither takes top_k, top_p or a
        temperature other than the default (Hugging Face's generate warns that they are
        unused there; rnnkit refuses, as it refuses every option it would ignore); only beam
        search takes a length_penalty other than the default."""
        if self.greedy and self.beam > 1:
            raise invalid("beam", self.beam, "1 with greedy decoding (greedy is beam search "
                          "of width 1)")  # fmt: skip
        check_length_penalty_used(self.beam, self.length_penalty, type(self).length_penalty)
        if not (self.greedy or self.beam > 1):
            return
        decoding = "greedy=True" if self.greedy else f"beam={self.beam} (beam search)"
        for name in ("top_k", "top_p"):
            if getattr(self, name) is not None:
                raise invalid(name, getattr(self, name), f"None with {decoding}: only sampling "
                              "keeps the top-k or top-p tokens")  # fmt: skip
        default = type(self).temperature
        if self.temperature != default:
            raise invalid("temperature", self.temperature, f"the default {default} with "
                          f"{decoding}: only sampling uses a temperature")  # fmt: skip

    def sampling(self) -> Sampling:
        """The sampling settings (checked: temperature, top_k, top_p)."""
        return Sampling(self.temperature, self.top_k, self.top_p, self.greedy)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_length_penalty_used(beam: int, length_penalty: float, default: float) -> None:
    """Refuse a ``length_penalty`` other than ``default`` without beam search (``beam`` 1):
    greedy decoding and sampling rank no hypotheses, so it would be ignored."""
    if beam == 1 and length_penalty != default:
        raise invalid("length_penalty", length_penalty, f"the default {default} with beam=1: "
                      "only beam search (beam > 1) ranks hypotheses by length")  # fmt: skip


def check_stop(stop: Sequence[str]) -> None:
    """``stop`` must be a list of non-empty strings (an empty one would end every sample at once)."""
    if isinstance(stop, str) or not all(isinstance(s, str) and s for s in stop):
        raise invalid("stop", stop, "a list of non-empty strings")
