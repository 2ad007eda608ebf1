"""A/B speed of the loop path (training: forward + hand-written backward) between two source trees.

Run: ``python benchmarks/loop_ab.py --base REV [--rounds 6]`` from the repository root. The
revision's ``src/`` is exported to a temporary directory; one child process per tree (one
thread each) holds the layers, and the two time one forward + backward each in turn
(A, B, A, B, ...), so load from other processes hits both alike. Reports the median over the
pairs of the current/base time ratio per kind (below 1 = the current tree is faster) and writes
``benchmarks/results/loop_ab.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from common import machine

SHAPE = (32, 40, 128)  # batch B, time T, hidden H (input size H), one layer
KINDS = ["RNN", "LSTM", "GRU"]
CHILD = """
import sys, time, torch
import rnnkit.nn as rnn
torch.set_num_threads(1)
B, T, H = {shape}
layers, inputs = {{}}, {{}}
for kind in {kinds}:
    torch.manual_seed(0)
    layers[kind] = getattr(rnn, kind)(H, H, implementation="loop")
    inputs[kind] = torch.randn(T, B, H)
print("ready", flush=True)
for line in sys.stdin:  # one kind name per line: time one forward + backward, print seconds
    layer, x = layers[line.strip()], inputs[line.strip()]
    layer.zero_grad(set_to_none=True)
    start = time.perf_counter()
    out, _ = layer(x)
    out.sum().backward()
    print(time.perf_counter() - start, flush=True)
"""


def export(rev: str, into: Path) -> Path:
    """``git archive REV src`` unpacked under ``into``; returns its src directory."""
    archive = into / "base.tar"
    subprocess.run(["git", "archive", "-o", str(archive), rev, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def start_tree(src: Path) -> subprocess.Popen:
    """A child process with that tree's rnnkit on its path, waiting for kinds to time."""
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1")
    code = CHILD.format(shape=SHAPE, kinds=KINDS)
    child = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def time_once(child: subprocess.Popen, kind: str) -> float:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(kind + "\n")
    child.stdin.flush()
    return float(child.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="e00551a", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=40, help="timed A/B pairs per kind")
    args = parser.parse_args()
    current = Path("src").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        children = [start_tree(current), start_tree(export(args.base, Path(tmp)))]
        ratios: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for step in range(args.rounds + 3):  # the first 3 are warm-up
            for kind in KINDS:
                mine, theirs = (time_once(child, kind) for child in children)
                if step >= 3:
                    ratios[kind].append(mine / theirs)
        for child in children:
            child.stdin.close()  # type: ignore[union-attr]
            child.wait()
    summary = {kind: round(statistics.median(r), 3) for kind, r in ratios.items()}
    print(f"loop path time, current / {args.base} (median of {args.rounds} pairs):", summary)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    payload = {
        "benchmark": "loop_ab", "machine": machine(), "base": args.base, "shape_B_T_H": SHAPE,
        "threads": 1, "ratio_current_over_base": summary, "raw": ratios,
    }  # fmt: skip
    (results / "loop_ab.json").write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
