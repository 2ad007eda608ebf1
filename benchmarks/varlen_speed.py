"""Variable length at padded cost: rnnkit ``lengths=`` against the same padded batch and torch.nn.

Run: ``python benchmarks/varlen_speed.py [--repeats 5] [--quick]``. For each kind (rnn, lstm,
gru), directions (1, 2), layers (1, 2) and hidden size (128, 256) one batch B=64, T=200, D=100
whose lengths cover about 57% of the steps (uniform in 28..200, the longest = 200) runs forward
+ backward (loss = output.sum() + h_n.sum()) as: rnnkit padded (no lengths), rnnkit with
``lengths=``, rnnkit on a PackedSequence, and torch.nn on the packed batch, all with the same
weights. The variants take turns within each repeat (interleaved); the figure is the median of
``--repeats`` rounds, each the best of 3 calls, and lengths / padded the median of the rounds' ratios. The target is ``lengths`` / padded <= 1.1.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import interleaved_times, publish
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn as rnn

B, T, D = 64, 200, 100


def batch_lengths(seed: int = 0) -> torch.Tensor:
    """B lengths uniform in 28..T with the longest = T: about 57% real steps."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(28, T + 1, (B,), generator=g)
    lengths[0] = T
    return lengths


def fwd_bwd(layer: torch.nn.Module, *args, **kwargs):
    def run() -> None:
        layer.zero_grad(set_to_none=True)
        out, final = layer(*args, **kwargs)
        data = out.data if hasattr(out, "batch_sizes") else out
        h = final[0] if isinstance(final, tuple) else final
        (data.sum() + h.sum()).backward()

    return run


def measure(kind: str, dirs: int, layers: int, hidden: int, repeats: int) -> dict[str, list[float]]:
    """Each variant's ms per forward + backward, round by round."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(D, hidden, num_layers=layers, bidirectional=dirs == 2)
    mine = getattr(rnn, kind)(D, hidden, num_layers=layers, bidirectional=dirs == 2)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(T, B, D)
    lengths = batch_lengths()
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    variants = {
        "padded": fwd_bwd(mine, x),
        "lengths": fwd_bwd(mine, x, lengths=lengths),
        "packed_in": fwd_bwd(mine, packed),
        "torch_packed": fwd_bwd(ref, packed),
        "torch_padded": fwd_bwd(ref, x),
    }
    return interleaved_times(variants, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="LSTM and GRU at H=128 only")
    args = parser.parse_args()
    kinds = ["LSTM", "GRU"] if args.quick else ["RNN", "LSTM", "GRU"]
    hiddens = [128] if args.quick else [128, 256]
    real = float(batch_lengths().sum()) / (B * T)
    rows, figures = [], []
    for kind in kinds:
        for dirs in (1, 2):
            for layers in (1, 2):
                for hidden in hiddens:
                    times = measure(kind, dirs, layers, hidden, args.repeats)
                    ms = {name: statistics.median(ts) for name, ts in times.items()}
                    by_round = [a / b for a, b in zip(times["lengths"], times["padded"], strict=True)]
                    ratio = statistics.median(by_round)
                    figures.append(
                        {"kind": kind, "dirs": dirs, "layers": layers, "hidden": hidden, "ms": ms,
                         "ms_by_round": times, "lengths_over_padded": ratio}
                    )  # fmt: skip
                    rows.append(
                        f"| {kind} | {dirs} | {layers} | {hidden} | {ms['padded']:.1f} | "
                        f"{ms['lengths']:.1f} | **{ratio:.2f}** | {ms['packed_in']:.1f} | "
                        f"{ms['torch_packed']:.1f} | {ms['torch_packed'] / ms['lengths']:.2f} |"
                    )
                    print(rows[-1], flush=True)
    table = (
        "| layer | dirs | layers | H | rnnkit padded ms | rnnkit `lengths=` ms | lengths / padded "
        "| rnnkit packed in ms | torch.nn packed ms | torch packed / rnnkit lengths |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Forward + backward, B={B} T={T} D={D}, {real:.0%} real steps; median of "
        f"{args.repeats} interleaved rounds, each the best of 3; lengths / padded is the median "
        "of the round-by-round ratios (the two run back to back). `lengths=` runs each layer "
        "direction padded (reverse directions reversed within each length), so it costs about "
        "the padded batch; torch.nn's packed kernels shrink the batch step by step."
    )
    publish(
        "varlen_speed",
        "Variable length: `lengths=` vs the padded batch and torch.nn packed (CPU)",
        {"B": B, "T": T, "D": D, "real_fraction": real, "rows": figures},
        table,
    )


if __name__ == "__main__":
    main()
