"""Forward+backward speed of rnnkit.nn's RNN/LSTM/GRU against torch.nn, both rnnkit paths.

Run: ``python benchmarks/rnn_speed.py [--repeats 50]``. For each (batch B, time T, hidden H)
the layer is one layer with input size H, input (B, T, H), loss = output.sum(); the time is
the median over repeats of one forward plus backward, after warm-up; the layers take turns
within each repeat. Ratios are over torch.nn's time (1.00 = same speed, below 1 = faster).

The reference beside them is the textbook loop: ``torch.nn.RNNCell/LSTMCell/GRUCell`` called
once per step in Python, each step projecting its own input. rnnkit's loop path differs from
it by computing the input projections of all T steps in one matrix product first.
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


class NaiveLoop(torch.nn.Module):
    """The textbook time loop over a torch.nn cell, with a torch.nn layer's weights."""

    def __init__(self, kind: str, layer: torch.nn.Module) -> None:
        super().__init__()
        self.cell = getattr(torch.nn, f"{kind}Cell")(layer.input_size, layer.hidden_size)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(self.cell, name).data.copy_(getattr(layer, f"{name}_l0"))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """x: (B, T, D) -> outputs (B, T, H)."""
        state, outputs = None, []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs, 1), None


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
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per case (median)")
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
            naive = NaiveLoop(kind, ref)
            x = torch.randn(batch, steps, hidden)
            t_ref, t_fused, t_loop, t_naive = time_layers(
                [ref, fused, loop, naive], x, args.repeats
            )
            row = {
                "kind": kind, "batch": batch, "time": steps, "hidden": hidden,
                "torch_ms": t_ref * 1e3, "fused_ms": t_fused * 1e3, "loop_ms": t_loop * 1e3,
                "naive_ms": t_naive * 1e3, "fused_ratio": t_fused / t_ref,
                "loop_ratio": t_loop / t_ref, "naive_ratio": t_naive / t_ref,
            }  # fmt: skip
            rows.append(row)
            print(
                f"{kind:4} B={batch:3} T={steps:2} H={hidden:3}  torch.nn {row['torch_ms']:7.2f} ms"
                f"  fused {row['fused_ms']:7.2f} ms ({row['fused_ratio']:.2f}x)"
                f"  loop {row['loop_ms']:7.2f} ms ({row['loop_ratio']:.2f}x)"
                f"  naive {row['naive_ms']:7.2f} ms ({row['naive_ratio']:.2f}x)"
            )
    lines = [
        "| layer | B | T | H | torch.nn ms | rnnkit fused ms | fused / torch | rnnkit loop ms "
        "| loop / torch | naive cell loop ms | naive / torch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['batch']} | {r['time']} | {r['hidden']} | {r['torch_ms']:.2f} | "
            f"{r['fused_ms']:.2f} | {r['fused_ratio']:.2f} | {r['loop_ms']:.2f} | "
            f"{r['loop_ratio']:.2f} | {r['naive_ms']:.2f} | {r['naive_ratio']:.2f} |"
        )
    lines.append(
        "\nForward + backward of one layer (input size = H), median of "
        f"{args.repeats} runs. Fused = torch's kernels with rnnkit's weights; loop = rnnkit's own "
        "time loop (input projections in one product before the loop); naive = torch.nn's cell "
        "called once per step in Python (the textbook loop)."
    )
    publish(
        "rnn_speed",
        "Recurrent layers: forward + backward vs torch.nn (CPU)",
        {"rows": rows},
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
