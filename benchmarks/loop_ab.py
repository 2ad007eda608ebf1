"""A/B speed of the loop path (training: forward + hand-written backward) between two source trees.

Run: ``python benchmarks/loop_ab.py --base REV [--rounds 6]`` from the repository root. The
revision's ``src/`` is exported to a temporary directory; then the current ``src/`` and the base
take turns, one subprocess per turn (A, B, A, B, ...), each timing the median of 15 forward +
backward passes per kind after warm-up, on one thread. Reports the median over rounds of the
current/base time ratio per kind (below 1 = the current tree is faster) and writes
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
import statistics, sys, time, json, torch
import rnnkit.nn as rnn
torch.set_num_threads(1)
B, T, H = {shape}
result = {{}}
for kind in {kinds}:
    torch.manual_seed(0)
    layer = getattr(rnn, kind)(H, H, implementation="loop")
    x = torch.randn(B, T, H)
    times = []
    for i in range(18):
        layer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        out, _ = layer(x.transpose(0, 1))
        out.sum().backward()
        if i >= 3:
            times.append(time.perf_counter() - start)
    result[kind] = statistics.median(times)
print(json.dumps(result))
"""


def export(rev: str, into: Path) -> Path:
    """``git archive REV src`` unpacked under ``into``; returns its src directory."""
    archive = into / "base.tar"
    subprocess.run(["git", "archive", "-o", str(archive), rev, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def time_tree(src: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1")
    code = CHILD.format(shape=SHAPE, kinds=KINDS)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="e00551a", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    current = Path("src").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.base, Path(tmp))
        ratios: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(args.rounds):
            mine, theirs = time_tree(current), time_tree(base)
            for kind in KINDS:
                ratios[kind].append(mine[kind] / theirs[kind])
    summary = {kind: round(statistics.median(r), 3) for kind, r in ratios.items()}
    print(f"loop path time, current / {args.base} (median of {args.rounds} rounds):", summary)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    payload = {
        "benchmark": "loop_ab", "machine": machine(), "base": args.base, "shape_B_T_H": SHAPE,
        "threads": 1, "ratio_current_over_base": summary, "raw": ratios,
    }  # fmt: skip
    (results / "loop_ab.json").write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
