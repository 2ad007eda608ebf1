"""The wavefront tanh stack against torch.nn's RNN kernel, forward + backward, on the CPU.

Run: ``python benchmarks/wavefront_speed.py [--rounds 3] [--quick]``. For each batch B, hidden
size H (input D = H) and layer count L (L*H <= 512), one batch of T=80 steps runs forward and
backward (loss = output.sum()) as: torch.nn.RNN, rnnkit.nn.RNN with the wavefront forced on,
and rnnkit.nn.RNN on torch's kernel (wavefront off), all with the same weights. The variants
take turns within each round; each figure is the median over ``--rounds`` of the best of 3
timed blocks. ``served`` says whether rnnkit's default (``wavefront.faster_here``) picks the
wavefront at that size; the grid is what those limits were set from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from common import interleaved_medians, publish

import rnnkit.nn as rnn
from rnnkit.nn import wavefront

T = 80


def fwd_bwd(layer: torch.nn.Module, x: torch.Tensor, wave: bool | None = None) -> Callable[[], None]:
    """One forward + backward; ``wave`` True/False forces the wavefront on/off (None: as is)."""

    def run() -> None:
        original = wavefront.faster_here
        if wave is not None:
            wavefront.faster_here = lambda *_, **__: wave  # type: ignore[assignment]
        try:
            layer.zero_grad(set_to_none=True)
            layer(x)[0].sum().backward()
        finally:
            wavefront.faster_here = original

    return run


def measure(batch: int, hidden: int, layers: int, rounds: int, bidir: bool) -> dict[str, float]:
    torch.manual_seed(0)
    ref = torch.nn.RNN(hidden, hidden, num_layers=layers, bidirectional=bidir)
    mine = rnn.RNN(hidden, hidden, num_layers=layers, bidirectional=bidir)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(T, batch, hidden, requires_grad=True)
    variants = {
        "torch": fwd_bwd(ref, x),
        "wavefront": fwd_bwd(mine, x, wave=True),
        "kernel": fwd_bwd(mine, x, wave=False),
    }
    return interleaved_medians(variants, rounds, calls=max(1, int(2e5 / (batch * hidden * layers))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="B=128, H=64 only")
    parser.add_argument("--bidirectional", action="store_true",
                        help="bidirectional layers (one-layer wavefronts per direction)")
    args = parser.parse_args()
    bidir = args.bidirectional
    batches, hiddens = ([128], [64]) if args.quick else ([16, 64, 128, 256], [32, 64, 128, 256])
    depths = (1, 2, 3)
    if bidir and not args.quick:  # each layer direction is a one-layer wavefront: fewer rows
        batches, hiddens, depths = [16, 64, 256], [64, 128, 256], (1, 2)
    rows, figures = [], []
    for batch in batches:
        for hidden in hiddens:
            for layers in depths:
                if layers * hidden > 512:
                    continue
                ms = measure(batch, hidden, layers, args.rounds, bidir)
                served = wavefront.faster_here(layers, hidden, bidirectional=bidir)
                figures.append({"batch": batch, "hidden": hidden, "layers": layers,
                                "served": served, "ms": ms})  # fmt: skip
                rows.append(
                    f"| {batch} | {hidden} | {layers} | {ms['torch']:.2f} | {ms['kernel']:.2f} | "
                    f"{ms['wavefront']:.2f} | **{ms['torch'] / ms['wavefront']:.2f}** | "
                    f"{'yes' if served else 'no'} |"
                )
                print(rows[-1], flush=True)
    table = (
        "| B | H | L | torch.nn ms | rnnkit on torch's kernel ms | wavefront ms | torch.nn / "
        "wavefront | served by default |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
        + f"\n\nForward + backward of a {'bidirectional ' if bidir else ''}tanh `RNN`, T={T}, "
        f"D=H, fp32; median of {args.rounds} "
        "interleaved rounds, each the best of 3 timed blocks. \"served\": rnnkit's default "
        "(`wavefront.faster_here`) runs the wavefront at that size, torch's kernel otherwise."
    )
    if bidir:
        publish("wavefront_speed_bidirectional",
                "Wavefront tanh stack against torch.nn.RNN, bidirectional (CPU)",
                {"time_steps": T, "rows": figures}, table,
                command="python benchmarks/wavefront_speed.py --bidirectional")  # fmt: skip
    else:
        publish("wavefront_speed", "Wavefront tanh stack against torch.nn.RNN (CPU)",
                {"time_steps": T, "rows": figures}, table)  # fmt: skip


if __name__ == "__main__":
    main()
