"""Sequence-to-sequence training speed: the loss through forward against the logits path.

Run: ``python benchmarks/seq2seq_speed.py [--rounds 8]``. The default Seq2Seq (bidirectional GRU
encoder of 256, GRU decoder of 256, general attention, embeddings of 256) at Multi30k de-en's
sizes (vocabularies of 9,600 and 7,700: its training words seen at least twice, split at
spaces; batches of 64 pairs, 13 source and 14 target tokens, the last 3 of every target
<pad>), one training step (forward, loss with label smoothing 0.1, backward, fused AdamW):

* ``rnnkit``: ``model(src, lengths, tgt_in, targets=gold, label_smoothing=0.1)``, the loss
  by :func:`rnnkit.nn.linear_cross_entropy.linear_cross_entropy` (what ``rnnkit train
  seq2seq`` runs);
* ``logits``: the same model's (B, T, V) logits, then ``F.cross_entropy`` (the path before);

in fp32 and under bf16 autocast, taking turns within each round. Figures: ms per step (median
of the rounds) and logits / rnnkit as the median of the round-by-round ratios.
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F
from common import interleaved_times, markdown_table, publish

from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

SOURCE_VOCAB, TARGET_VOCAB = 9_600, 7_700
B, S, T, PADDED = 64, 13, 14, 3
SMOOTHING = 0.1


def training_steps(bf16: bool) -> dict:
    """One training step each way on the same batch, as argument-free callables."""
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(source_vocab_size=SOURCE_VOCAB, target_vocab_size=TARGET_VOCAB))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    src = torch.randint(4, SOURCE_VOCAB, (B, S))
    lengths = torch.full((B,), S)
    tgt = torch.randint(4, TARGET_VOCAB, (B, T + 1))
    tgt[:, -PADDED:] = 0  # <pad>
    tgt_in, gold = tgt[:, :-1], tgt[:, 1:]

    def step(fused: bool):
        def run() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if fused:
                    loss, _ = model(src, lengths, tgt_in, targets=gold, label_smoothing=SMOOTHING)
                else:
                    logits, _ = model(src, lengths, tgt_in)
                    loss = F.cross_entropy(logits.flatten(0, 1).float(), gold.flatten(),
                                           ignore_index=0, label_smoothing=SMOOTHING)  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return run

    return {"rnnkit": step(True), "logits": step(False)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    rows, figures = [], []
    for precision in ("fp32", "bf16"):
        times = interleaved_times(training_steps(precision == "bf16"), args.rounds)
        ms = {name: statistics.median(v) for name, v in times.items()}
        ratios = [a / b for a, b in zip(times["logits"], times["rnnkit"], strict=True)]
        speedup = statistics.median(ratios)
        figures.append({"precision": precision, "ms_by_round": times, "speedup": speedup})
        rows.append(f"| {precision} | {ms['rnnkit']:.1f} | {ms['logits']:.1f} | **{speedup:.2f}** "
                    f"({min(ratios):.2f}-{max(ratios):.2f}) |")  # fmt: skip
        print(rows[-1], flush=True)
    columns = ["precision", "rnnkit ms/step (loss through forward)",
               "logits + cross_entropy ms/step", "speedup (range of rounds)"]  # fmt: skip
    table = markdown_table(
        columns,
        rows,
        (
            f"Default Seq2Seq, vocabularies {SOURCE_VOCAB:,} / {TARGET_VOCAB:,}, B={B}, S={S}, "
            f"T={T} ({PADDED} of them <pad>), label smoothing {SMOOTHING}; one training step with "
            f"fused AdamW, {torch.get_num_threads()} threads, median of {args.rounds} interleaved "
            "rounds (each the best of 3 steps); the speedup is the median of the round-by-round "
            "ratios."
        ),
    )
    publish("seq2seq_speed", "Sequence-to-sequence training speed (CPU)", {"rows": figures}, table)


if __name__ == "__main__":
    main()
