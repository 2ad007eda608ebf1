"""Yes/no answers about this machine's speed, measured once and cached in memory and on disk.

Which of two ways of computing something runs faster depends on the CPU (maker, generation,
vector extensions), the BLAS and oneDNN builds and the thread count, so rnnkit measures instead
of assuming (:mod:`rnnkit.nn.precision`: bf16 or fp32; :mod:`rnnkit.nn.numpy_step`: numpy or
ATen steps). Answers are kept in ``$XDG_CACHE_HOME/rnnkit/measured.json`` (default
``~/.cache/rnnkit``), keyed by CPU model, vector extensions, thread count, torch version and
the measuring method (:data:`METHOD`):
a later process reuses them, so its choices (and its results, which can differ in the last
bits between two ways) are the same. Each question has an environment variable that forces
the answer: ``0`` = no (no measurement), ``1`` = yes.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

logger = logging.getLogger("rnnkit.nn")
_ANSWERS: dict[str, bool] = {}
# How answers are measured, in every key: answers from an earlier method are measured again
# (3: fused kernels measured at B=64 T=32 up to H=256, was B=32 T=16, 2026-12-05; 2: the
# median of round-by-round ratios; 1: the best time of each)
METHOD = 3


def cache_path() -> Path | None:
    """``$XDG_CACHE_HOME/rnnkit/measured.json``, or under ``~/.cache``; a relative
    XDG_CACHE_HOME is ignored, as the XDG spec says. None where no home directory can be
    found (HOME unset and no passwd entry): the answers are then kept in memory only."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # "Could not determine home directory"
            return None
    return Path(base) / "rnnkit" / "measured.json"


@functools.cache
def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one).

    Read once per process: every forward under autocast asks for a cached precision answer,
    whose key holds this name, and reading /proc/cpuinfo took about 40 us each time."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _machine() -> str:
    """The cache key's machine part.  The vector extensions torch dispatches to are part of it:
    a VM's model name ("AMD EPYC") can stand for a CPU with AVX2 only or one with AVX-512 bf16."""
    isa = torch.backends.cpu.get_cpu_capability()
    return (
        f"{cpu_name()}|{isa}|threads={torch.get_num_threads()}|torch={torch.__version__}"
        f"|method={METHOD}"
    )


@functools.cache
def _ignored(variable: str, value: str) -> None:
    """Say once that an environment variable's value is not one ``cached`` understands."""
    logger.warning("%s=%r ignored: expected 0 or 1 (or unset: measured)", variable, value)


def cached(key: str, measure: Callable[[], bool], override: str) -> bool:
    """The answer for ``key`` on this machine: the environment variable ``override`` when it
    is 0 or 1, else memory, disk, else ``measure()`` (then stored)."""
    forced = os.environ.get(override, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if forced:
        _ignored(override, forced)
    key = f"{_machine()}|{key}"
    if key in _ANSWERS:
        return _ANSWERS[key]
    path = cache_path()
    answer = _stored(path).get(key)
    if not isinstance(answer, bool):  # none yet, or a file edited by hand: measured again
        answer = measure()
        logger.info("%s on this machine: %s", key, "yes" if answer else "no")
        # read again: a measurement may ask questions of its own (a token step's measurement
        # lays out its products), whose answers were written meanwhile
        stored = _stored(path)
        stored[key] = answer
        if path is not None:  # else no home directory: the answer stays in memory
            _write(path, stored)
    _ANSWERS[key] = bool(answer)
    return _ANSWERS[key]


def _write(path: Path, stored: dict[str, bool]) -> None:
    """Replace the answers file whole (a temporary file renamed); a failure is only logged."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stored, indent=1))
        tmp.replace(path)
    except OSError:
        logger.debug("could not write %s", path)


def _stored(path: Path | None) -> dict[str, bool]:
    """The answers on disk ({} for a missing or unreadable file, or no file)."""
    if path is None:
        return {}
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def faster(
    candidate: Callable[[], object],
    baseline: Callable[[], object],
    speedup: float = 1.1,
    rounds: int = 7,
    interleaved: bool = True,
) -> bool:
    """Is ``candidate`` at least ``speedup`` times faster than ``baseline``? Each runs once
    untimed (warm-up), then ``rounds`` timed calls each. Interleaved (the default), the calls
    alternate and the answer is the median of the round-by-round ratios: this VM's speed drifts
    by 20-40% within seconds, and the best time of each, taken at different moments, once
    answered 1.23x where the rounds' ratios said 1.07x (an AG News BiLSTM step, bf16 against
    fp32). With ``interleaved`` False, all of the baseline's calls run before the candidate's,
    for a candidate whose threads keep the cores busy for a while after it returns (OpenBLAS's
    spin for about 0.1 s), and the answer is the ratio of the median times."""

    def seconds(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        fn()
        return max(time.perf_counter() - start, 1e-9)

    if interleaved:
        for fn in (candidate, baseline):
            fn()  # warm-up (primitive creation, caches)
        ratios = []
        for _ in range(rounds):
            spent = seconds(candidate)
            ratios.append(seconds(baseline) / spent)
        ratio = statistics.median(ratios)
    else:
        medians = {}
        for fn in (baseline, candidate):
            fn()
            medians[fn] = statistics.median(seconds(fn) for _ in range(rounds))
        ratio = medians[baseline] / medians[candidate]
    logger.debug("the candidate measured %.2fx the baseline's speed", ratio)
    return ratio >= speedup
