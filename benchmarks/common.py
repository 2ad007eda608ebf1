"""Shared helpers of the benchmark scripts: machine description, interleaved timing and result
publishing.

Each script saves its figures as JSON under benchmarks/results/ and rewrites its own section
of benchmarks/RESULTS.md (between ``<!-- name:begin -->`` and ``<!-- name:end -->`` markers).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from rnnkit.nn.measured import cpu_name

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
# ../shared/data from the repository root; RNNKIT_SHARED_DATA, or /work/shared/data, otherwise
SHARED_DATA = next(
    (p for p in (HERE.parent.parent / "shared" / "data", Path(os.environ.get(
        "RNNKIT_SHARED_DATA", "/work/shared/data"))) if p.is_dir()),
    HERE.parent.parent / "shared" / "data",
)  # fmt: skip

# Seconds before each timed run, for the previous run's thread pools (torch's OpenMP, OpenBLAS,
# TensorFlow's) to stop spinning: a run right after one of them was measured slower.
SETTLE = 0.3


def interleaved_times(
    runs: dict[str, Callable[[], None]], rounds: int, calls: int = 1
) -> dict[str, list[float]]:
    """Ms per call of each run, round by round: after one warm-up call each, ``rounds``
    rounds in which the runs take turns, each timed as the best of 3 blocks of ``calls``
    calls. Ratios between two runs are best taken round by round (the VM's speed drifts)."""
    for run in runs.values():  # warm-up
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(calls):
                    run()
                best = min(best, (time.perf_counter() - start) / calls)
            times[name].append(best * 1e3)
    return times


def interleaved_medians(
    runs: dict[str, Callable[[], None]], rounds: int, calls: int = 1
) -> dict[str, float]:
    """Median ms per call of each run over :func:`interleaved_times`' rounds."""
    times = interleaved_times(runs, rounds, calls)
    return {name: statistics.median(ts) for name, ts in times.items()}


def markdown_table(columns: list[str], rows: list[str], caption: str) -> str:
    """A Markdown table: a header of ``columns``, the formatted ``rows`` ("| a | b |") and,
    after a blank line, ``caption``."""
    return "\n".join(
        ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns), *rows, "", caption]
    )


def machine() -> dict[str, object]:
    """Where the figures were measured: CPU model, cores, torch build, date."""
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
    }


def publish(
    name: str, title: str, figures: dict[str, object], table_md: str, command: str | None = None
) -> None:
    """Save figures to results/<name>.json and the table as RESULTS.md's section <name>;
    ``command`` (default ``python benchmarks/<name>.py``) is what the section says made it.
    Notes written by hand after a ``<!-- <name>:notes -->`` line in the section are kept."""
    info = machine()
    (HERE / "results").mkdir(exist_ok=True)
    payload = {"benchmark": name, "machine": info, **figures}
    (HERE / "results" / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    where = f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}"
    if info["cuda"]:
        where += f", GPU {info['cuda']}"
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"<!-- {name}:begin -->.*?<!-- {name}:end -->", re.S)
    old = pattern.search(text)
    notes = re.search(rf"<!-- {name}:notes -->.*(?=<!-- {name}:end -->)", old[0], re.S) if old else None
    kept = "" if notes is None else "\n" + notes[0]
    section = (
        f"<!-- {name}:begin -->\n## {title}\n\n{info['date']} · {where} · "
        f"`{command or f'python benchmarks/{name}.py'}` · raw figures: "
        f"`benchmarks/results/{name}.json`\n\n"
        f"{table_md.strip()}\n{kept}<!-- {name}:end -->"
    )
    text = (
        pattern.sub(lambda _: section, text) if old else text.rstrip() + "\n\n" + section + "\n"
    )
    RESULTS_MD.write_text(text)
    print(
        f"saved benchmarks/results/{name}.json and the '{title}' section of benchmarks/RESULTS.md"
    )


def gemm_peak(size: int = 2048) -> dict[str, float]:
    """GFLOP/s of torch.mm on (size x size) matrices, fp32 and bf16, best of 3.

    A dtype whose first product takes over a second (bf16 emulated on a CPU without bf16
    instructions: ~0.6 GFLOP/s on one AVX2-only EPYC) is timed on that one product.
    """
    peak = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        best = float("inf")
        for _ in range(4):
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
            if best > 1.0:
                break
        peak[name] = 2 * size**3 / best / 1e9
    return peak
