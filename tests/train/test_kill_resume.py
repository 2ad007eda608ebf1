"""kill -9 at any moment of `rnnkit train lm`, then --resume: the same weights, bit for bit.

A reference run trains in-process. Each other run starts as a subprocess, is killed with
SIGKILL at one point (before its first checkpoint, inside a save, between a save's two
renames, at a random moment) and is continued in-process with ``--resume``. The final
``last/`` and ``best/`` weights must equal the reference's exactly, ``metrics.jsonl`` must hold
each record once, and no temporary save directory may survive.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.cli.main import main
from rnnkit.train.checkpoint import PAUSE_ENV

TEXT = "to be or not to be, that is the question.\n" * 60
SRC = str(Path(__file__).parents[2] / "src")


def args(corpus: Path, out: Path) -> list[str]:
    return ["train", "lm", "--corpus", str(corpus), "--hidden", "16", "--layers", "1",
            "--embed", "8", "--seq-len", "8", "--batch-size", "4", "--eval-every", "4",
            "--steps", "24", "--warmup-steps", "3", "--out", str(out), "--no-progress"]  # fmt: skip


@contextlib.contextmanager
def one_thread():
    """Run in-process on one thread, as the OMP_NUM_THREADS=1 subprocesses do."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_in_process(argv: list[str]) -> None:
    with one_thread(), contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0


def weights(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {name: load_file(run / name / "model.safetensors") for name in ("best", "last")}


def kill_when(argv: list[str], ready: Callable[[], bool], pause: float | None) -> None:
    """Start ``rnnkit argv`` in a subprocess and SIGKILL it as soon as ``ready()`` holds."""
    env = os.environ | {"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    if pause is not None:
        env[PAUSE_ENV] = str(pause)
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli.main", *argv], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    try:
        while not ready():
            assert process.poll() is None, "the run ended before the kill point"
            assert time.monotonic() < deadline, "the kill point never came"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("kill")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT)
    train_in_process(args(corpus, root / "reference"))
    return corpus, weights(root / "reference")


def saved(out: Path, name: str) -> bool:
    return (out / name / "manifest.json").is_file()


def any_glob(out: Path, pattern: str) -> bool:
    return out.is_dir() and any(out.glob(pattern))


POINTS: dict[str, tuple[Callable[[Path], bool], float | None]] = {
    # config.json is written just before the first step; the first save then sleeps 30 s,
    # so the kill lands before any checkpoint exists (inside the first save, in fact)
    "before the first checkpoint": (lambda out: (out / "config.json").is_file(), 30),
    "inside a later save": (lambda out: saved(out, "last") and any_glob(out, ".last.tmp-*"), 0.3),
    "between a save's renames": (lambda out: any_glob(out, ".last.old-*"), 0.3),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", [*POINTS, "at a random moment"])
def test_killed_run_resumes_to_identical_weights(point: str, reference, tmp_path: Path) -> None:
    corpus, expected = reference
    out = tmp_path / "run"
    if point in POINTS:
        ready, pause = POINTS[point]
        kill_when(args(corpus, out), lambda: ready(out), pause)
    else:
        delay = random.Random().uniform(0.0, 3.0)
        started: list[float] = []

        def later() -> bool:
            if not (out / "config.json").is_file():
                return False
            started.append(started[0] if started else time.monotonic())
            return time.monotonic() - started[0] >= delay

        kill_when(args(corpus, out), later, 0.2)  # saves take 0.4 s: the run lasts seconds
    train_in_process([*args(corpus, out), "--resume"])
    got = weights(out)
    for name in ("best", "last"):
        assert got[name].keys() == expected[name].keys()
        for key, tensor in expected[name].items():
            assert torch.equal(got[name][key], tensor), (point, name, key)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val_steps = [r["step"] for r in records if "val_loss" in r]
    assert val_steps == [4, 8, 12, 16, 20, 24], point  # each validation once, in order
    assert not list(out.glob(".*.tmp-*")) and not list(out.glob(".*.old-*"))


@pytest.mark.slow
def test_ctrl_c_before_the_first_checkpoint_says_so(reference, tmp_path: Path) -> None:
    corpus, _ = reference
    out = tmp_path / "run"
    env = os.environ | {"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", PAUSE_ENV: "30"}
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli.main", *args(corpus, out)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not any_glob(out, ".best.tmp-*") and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "no checkpoint saved yet" in stderr and "holds the checkpoint" not in stderr  # logged
    assert not list(out.glob(".*.tmp-*"))  # the interrupted save cleaned up after itself
