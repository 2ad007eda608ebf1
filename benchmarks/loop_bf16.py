"""The loop path's training speed under CPU bf16 autocast: recurrent products in bf16 or fp32.

Run: ``python benchmarks/loop_bf16.py [--repeats 7]``. The loop path is what runs with
``recurrent_dropout`` or ``layer_norm`` (torch.nn has neither). Each configuration is one
layer with ``recurrent_dropout=0.25`` in training mode, input (B=64, T=50, D=H), loss =
output.sum(), timed forward + backward in three settings, taking turns within each repeat
(median over repeats):

- fp32: no autocast;
- autocast, fp32 products: the input projection in bf16, the recurrence wholly fp32
  (``RNNKIT_BF16=0``, what rnnkit did before the recurrent products could run in bf16);
- autocast, bf16 products: W_hh x_t and its backward products in bf16, state and gates fp32
  (``RNNKIT_BF16=1``; ``auto`` picks this where :func:`rnnkit.nn.precision.bf16_matmul`
  measures it faster, shown in the last column).

The output difference column is the largest |bf16 products - fp32| output, same weights and
dropout masks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import torch
from common import publish

import rnnkit.nn as rnn
from rnnkit.nn import precision

KINDS = ["LSTM", "GRU", "RNN"]
SIZES = [128, 256, 512]
BATCH, TIME = 64, 50
SETTINGS = {  # name: (autocast, RNNKIT_BF16)
    "fp32": (False, "0"),
    "autocast_fp32_products": (True, "0"),
    "autocast_bf16_products": (True, "1"),
}


def step(
    layer: torch.nn.Module, x: torch.Tensor, autocast: bool, bf16_products: str
) -> tuple[float, torch.Tensor]:
    """Seconds of one forward + backward, and the output (same seed: same dropout masks)."""
    os.environ["RNNKIT_BF16"] = bf16_products
    layer.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    start = time.perf_counter()
    context = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with context:
        out, _ = layer(x)
    out.sum().backward()
    return time.perf_counter() - start, out.detach()


def measure(kind: str, hidden: int, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    layer = getattr(rnn, kind)(hidden, hidden, recurrent_dropout=0.25, implementation="loop")
    x = torch.randn(TIME, BATCH, hidden)
    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    outputs = {}
    for name, setting in SETTINGS.items():  # warm-up
        outputs[name] = step(layer, x, *setting)[1]
    for _ in range(repeats):
        for name, setting in SETTINGS.items():
            times[name].append(step(layer, x, *setting)[0])
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    bf16, fp32 = outputs["autocast_bf16_products"], outputs["autocast_fp32_products"]
    os.environ.pop("RNNKIT_BF16")
    return {
        **ms,
        "speedup": ms["autocast_fp32_products"] / ms["autocast_bf16_products"],
        "max_difference": (bf16 - fp32).abs().max().item(),
        "auto_picks_bf16": precision.bf16_matmul(layer.kind, hidden),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    results = {}
    rows = []
    for kind in KINDS:
        for hidden in SIZES:
            r = measure(kind, hidden, args.repeats)
            results[f"{kind}_H{hidden}"] = r
            rows.append(
                f"| {kind} | {hidden} | {r['fp32']:.1f} | {r['autocast_fp32_products']:.1f} | "
                f"{r['autocast_bf16_products']:.1f} | {r['speedup']:.2f} | "
                f"{r['max_difference']:.4f} | {'bf16' if r['auto_picks_bf16'] else 'fp32'} |"
            )
            print(rows[-1], flush=True)
    table = (
        "| kind | H | fp32 ms | autocast, fp32 products ms | autocast, bf16 products ms | "
        "speedup of bf16 products | max output difference | auto picks |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
        + f"\n\nLoop path (recurrent_dropout 0.25), one layer, B={BATCH} T={TIME} D=H, "
        f"forward + backward, median of {args.repeats}, {torch.get_num_threads()} threads."
    )  # fmt: skip
    publish(
        "loop_bf16", "Loop path under bf16 autocast: recurrent products in bf16", results, table
    )


if __name__ == "__main__":
    main()
