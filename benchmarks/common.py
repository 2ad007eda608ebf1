"""Shared helpers of the benchmark scripts: machine description and result publishing.

Each script saves its figures as JSON under benchmarks/results/ and rewrites its own section
of benchmarks/RESULTS.md (between ``<!-- name:begin -->`` and ``<!-- name:end -->`` markers).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
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


def publish(name: str, title: str, figures: dict[str, object], table_md: str) -> None:
    """Save figures to results/<name>.json and the table as RESULTS.md's section <name>."""
    info = machine()
    (HERE / "results").mkdir(exist_ok=True)
    payload = {"benchmark": name, "machine": info, **figures}
    (HERE / "results" / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    where = f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}"
    if info["cuda"]:
        where += f", GPU {info['cuda']}"
    section = (
        f"<!-- {name}:begin -->\n## {title}\n\n{info['date']} · {where} · "
        f"`python benchmarks/{name}.py` · raw figures: `benchmarks/results/{name}.json`\n\n"
        f"{table_md.strip()}\n<!-- {name}:end -->"
    )
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"<!-- {name}:begin -->.*?<!-- {name}:end -->", re.S)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    RESULTS_MD.write_text(text)
    print(
        f"saved benchmarks/results/{name}.json and the '{title}' section of benchmarks/RESULTS.md"
    )
