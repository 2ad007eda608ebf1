"""Forward+backward speed of rnnkit.nn's RNN/LSTM/GRU against torch.nn, both rnnkit paths.

Run: ``python benchmarks/rnn_speed.py [--repeats 20]``. For each (batch B, time T, hidden H)
the layer is one layer with input size H, input (B, T, H), loss = output.sum(); the time is
the median over repeats of one forward plus backward, after warm-up; the three layers take
turns within each repeat. Ratios are rnnkit's time
over torch.nn's (1.00 = same speed, below 1 = faster).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import publish

import rnnkit.nn as rnn

SHAPES = [(128, 80, 64), (64, 48, 128), (50, 40, 256)]
KINDS = ["RNN", "LSTM", "GRU"]


def run_once(layer: torch.nn.Module, x: torch.Tensor) -> float:
    """Seconds of one forward + backward."""
    layer.zero_grad(set_to_none=True)
    start = time.perf_counter()
    out, _ = layer(x)
    out.sum().backward()
    return time.perf_counter() - start


def time_layers(layers: list[torch.nn.Module], x: torch.Tensor, repeats: int) -> list[float]:
    """Median seconds per layer; the layers take turns, so load on the machine hits all alike."""
    for layer in layers:  # warm-up
        for _ in range(3):
            run_once(layer, x)
    samples: list[list[float]] = [[] for _ in layers]
    for _ in range(repeats):
        for index, layer in enumerate(layers):
            samples[index].append(run_once(layer, x))
    return [statistics.median(s) for s in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per case (median)")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for kind in KINDS:
        for batch, steps, hidden in SHAPES:
            ref = getattr(torch.nn, kind)(hidden, hidden, batch_first=True)
            fused = getattr(rnn, kind)(hidden, hidden, batch_first=True, implementation="fused")
            loop = getattr(rnn, kind)(hidden, hidden, batch_first=True, implementation="loop")
            fused.load_state_dict(ref.state_dict())
            loop.load_state_dict(ref.state_dict())
            x = torch.randn(batch, steps, hidden)
            t_ref, t_fused, t_loop = time_layers([ref, fused, loop], x, args.repeats)
            row = {
                "kind": kind, "batch": batch, "time": steps, "hidden": hidden,
                "torch_ms": t_ref * 1e3, "fused_ms": t_fused * 1e3, "loop_ms": t_loop * 1e3,
                "fused_ratio": t_fused / t_ref, "loop_ratio": t_loop / t_ref,
            }  # fmt: skip
            rows.append(row)
            print(
                f"{kind:4} B={batch:3} T={steps:2} H={hidden:3}  torch.nn {row['torch_ms']:7.2f} ms"
                f"  fused {row['fused_ms']:7.2f} ms ({row['fused_ratio']:.2f}x)"
                f"  loop {row['loop_ms']:7.2f} ms ({row['loop_ratio']:.2f}x)"
            )
    lines = [
        "| layer | B | T | H | torch.nn ms | rnnkit fused ms | fused / torch | rnnkit loop ms | loop / torch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['batch']} | {r['time']} | {r['hidden']} | {r['torch_ms']:.2f} | "
            f"{r['fused_ms']:.2f} | {r['fused_ratio']:.2f} | {r['loop_ms']:.2f} | {r['loop_ratio']:.2f} |"
        )
    lines.append(
        "\nForward + backward of one layer (input size = H), median of "
        f"{args.repeats} runs. Fused = torch's kernels with rnnkit's weights; loop = rnnkit's own "
        "time loop (input projections in one product before the loop)."
    )
    publish(
        "rnn_speed",
        "Recurrent layers: forward + backward vs torch.nn (CPU)",
        {"rows": rows},
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
