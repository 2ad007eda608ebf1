"""bf16 against fp32 training curves: the default char LSTM on the bundled Shakespeare corpus.

Run: ``python benchmarks/bf16_curves.py [--steps 300]``. Two runs from the same seed and the
same batches (B=32, T=64 character windows), Adam 2e-3, gradient clipping 1.0: one in fp32,
one under CPU bf16 autocast with fp32 master weights (the recurrent kernels in bf16 only where
``rnnkit.nn.precision`` measures that faster here; set ``RNNKIT_BF16=1`` to force them). The
training loss is averaged over windows of 25 steps. Tolerance: the bf16 curve's last window
within 0.05 nats/char of the fp32 curve's (bf16 has 8 bits of mantissa; the product sums are
still accumulated in fp32). Also reported: seconds per step of each.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import publish

from rnnkit.data.corpora import load_corpus
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.nn import precision

TOLERANCE = 0.05  # nats/char between the curves' last windows
WINDOW = 25


def run(ids: torch.Tensor, vocab: int, steps: int, bf16: bool) -> tuple[list[float], float]:
    """Per-window mean training loss and seconds per step."""
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(vocab_size=vocab))
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    gen = torch.Generator().manual_seed(1)
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - 65, (32,), generator=gen)
        batch = torch.stack([ids[s : s + 65] for s in starts.tolist()])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    per_step = (time.perf_counter() - start) / steps
    windows = [sum(losses[i : i + WINDOW]) / len(losses[i : i + WINDOW]) for i in range(0, steps, WINDOW)]
    return windows, per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    text = load_corpus("shakespeare")
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(c) for c in text[:200_000]])
    fp32, fp32_step = run(ids, len(chars), args.steps, bf16=False)
    bf16, bf16_step = run(ids, len(chars), args.steps, bf16=True)
    gap = abs(bf16[-1] - fp32[-1])
    kernel_bf16 = precision.bf16_kernel("lstm", 256, torch.lstm)
    rows = [
        f"| {i * WINDOW + 1}-{min((i + 1) * WINDOW, args.steps)} | {a:.3f} | {b:.3f} | {b - a:+.3f} |"
        for i, (a, b) in enumerate(zip(fp32, bf16, strict=True))
    ]
    table = (
        "| steps | fp32 loss | bf16 loss | difference |\n|---|---|---|---|\n" + "\n".join(rows)
        + f"\n\nLast window gap {gap:.3f} nats/char (tolerance {TOLERANCE}): "
        f"**{'within' if gap <= TOLERANCE else 'OUTSIDE'}**. Seconds per step: fp32 "
        f"{fp32_step:.3f}, bf16 autocast {bf16_step:.3f} ({fp32_step / bf16_step:.2f}x). "
        f"Recurrent kernel under autocast here: {'bf16' if kernel_bf16 else 'fp32'} "
        "(measured by rnnkit.nn.precision). Default char model (2x256 LSTM, embedding 64), "
        f"B=32 T=64, {args.steps} steps, {torch.get_num_threads()} threads."
    )  # fmt: skip
    print(table)
    figures = {"fp32": fp32, "bf16": bf16, "gap": gap, "tolerance": TOLERANCE,
               "s_per_step": {"fp32": fp32_step, "bf16": bf16_step}, "kernel_bf16": kernel_bf16}  # fmt: skip
    publish("bf16_curves", "bf16 vs fp32 training curves, char LSTM (CPU)", figures, table)


if __name__ == "__main__":
    main()
