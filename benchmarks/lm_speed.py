"""Language-model training speed: rnnkit's LanguageModel against the same model in torch.nn.

Run: ``python benchmarks/lm_speed.py [--rounds 6] [--quick]``. For a word-level model (V =
10,000, embedding 50, one LSTM of 128: the shape of benchmarks/classify_transfer.py's language
model) and the default char-level one (V = 65, embedding 64, two LSTMs of 256), one training
step on a (B=64, T=100) window (forward, loss, backward, fused AdamW) runs as:

* ``rnnkit``: ``LanguageModel(ids, state, targets=y)``, the loss by
  :func:`rnnkit.nn.linear_cross_entropy.linear_cross_entropy` (what ``rnnkit train lm`` runs);
* ``rnnkit_logits``: the same model, its logits then ``F.cross_entropy`` (the path before);
* ``torch.nn``: nn.Embedding, nn.LSTM, nn.Linear and ``F.cross_entropy``, the same weights;

in fp32 and under bf16 autocast, the runs taking turns within each round. Figures: tokens/s
(median of the rounds) and rnnkit / torch.nn as the median of the round-by-round ratios.
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F
from common import interleaved_times, markdown_table, publish
from torch import nn

from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

B, T = 64, 100
MODELS = {  # name: (vocabulary, embedding, hidden, layers)
    "word V=10,000, 1x128": (10_000, 50, 128, 1),
    "char V=65, 2x256": (65, 64, 256, 2),
}


class TorchLM(nn.Module):
    """The language model in torch.nn modules, with rnnkit's weights copied in."""

    def __init__(self, source: LanguageModel) -> None:
        super().__init__()
        c = source.config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_size)
        between = c.dropout if c.num_layers > 1 else 0.0  # as rnnkit's stack (make_rnn)
        self.rnn = nn.LSTM(c.embedding_size, c.hidden_size, c.num_layers, batch_first=True,
                           dropout=between)  # fmt: skip
        self.dropout = nn.Dropout(c.dropout)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
        self.load_state_dict(source.state_dict())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) -> logits (B, T, V)."""
        output, _ = self.rnn(self.dropout(self.embedding(ids)))
        return self.decoder(self.dropout(output))


def training_steps(vocab: int, embed: int, hidden: int, layers: int, bf16: bool) -> dict:
    """One training step per system on one (B, T) window, as argument-free callables."""
    torch.manual_seed(0)
    config = LanguageModelConfig(cell="lstm", num_layers=layers, hidden_size=hidden,
                                 embedding_size=embed, vocab_size=vocab, dropout=0.1)  # fmt: skip
    ours = LanguageModel(config)
    theirs = TorchLM(ours)
    ids, targets = torch.randint(0, vocab, (2, B, T))

    def step(model: nn.Module, fused: bool):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)

        def run() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if fused:
                    loss, _ = model(ids, targets=targets)
                else:
                    logits = model(ids)
                    logits = logits[0] if isinstance(logits, tuple) else logits
                    loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return run

    return {
        "rnnkit": step(ours, True),
        "rnnkit_logits": step(ours, False),
        "torch.nn": step(theirs, False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="2 rounds (a smoke run)")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    rows, figures = [], []
    for name, shape in MODELS.items():
        for precision in ("fp32", "bf16"):
            times = interleaved_times(training_steps(*shape, bf16=precision == "bf16"), rounds)
            tokens = {k: B * T / (statistics.median(v) / 1e3) for k, v in times.items()}
            ratio = {
                other: statistics.median(
                    a / b for a, b in zip(times[other], times["rnnkit"], strict=True)
                )
                for other in ("rnnkit_logits", "torch.nn")
            }
            figures.append({"model": name, "precision": precision, "tokens_per_s": tokens,
                            "ms_by_round": times, "speedup_by_median_ratio": ratio})  # fmt: skip
            rows.append(
                f"| {name} | {precision} | {tokens['rnnkit']:,.0f} | "
                f"{tokens['rnnkit_logits']:,.0f} | {tokens['torch.nn']:,.0f} | "
                f"**{ratio['torch.nn']:.2f}** | {ratio['rnnkit_logits']:.2f} |"
            )
            print(rows[-1], flush=True)
    columns = ["model", "precision", "rnnkit tokens/s", "rnnkit, logits + cross_entropy",
               "torch.nn", "rnnkit / torch.nn", "rnnkit / logits path"]  # fmt: skip
    table = markdown_table(
        columns,
        rows,
        (
            f"One training step (forward, loss, backward, fused AdamW) on a B={B}, T={T} window, "
            f"{torch.get_num_threads()} threads; median of {rounds} interleaved rounds (each the "
            "best of 3 steps); ratios are medians of the round-by-round ratios. rnnkit computes "
            "the loss with `linear_cross_entropy` (chunks of about 2^20 logits, gradients alongside); "
            "the other two write the (B*T, V) logits and call `F.cross_entropy`."
        ),
    )
    publish("lm_speed", "Language-model training speed (CPU)", {"rows": figures}, table)


if __name__ == "__main__":
    main()
