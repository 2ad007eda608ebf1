"""Helpers of the CLI's bad-input tests: run ``rnnkit.cli.main`` in-process with a time limit,
check the one-line error, and train the tiny runs that commands taking a run directory need."""

from __future__ import annotations

import contextlib
import io
import signal
from pathlib import Path

from rnnkit.cli.main import main


class _Hang(Exception):
    pass


def run_cli(argv: list[str], capsys, timeout: int = 30) -> tuple[int, str, str]:
    """(status, stdout, stderr) of ``main(argv)`` in-process; raises _Hang after ``timeout`` s."""

    def on_alarm(*_):
        raise _Hang(f"no answer within {timeout}s: {argv}")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout)
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(argv: list[str], capsys, *needles: str, timeout: int = 60) -> str:
    """Run ``argv``: status 2 and one stderr line, no traceback, holding every needle
    (case-insensitive); the line."""
    code, _, err = run_cli(argv, capsys, timeout)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (code, lines)
    assert "Traceback" not in lines[0]
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    return lines[0]


def train_tiny(root: Path, runs: dict[str, list[str]], tiny: list[str]) -> dict[str, str]:
    """Train each ``runs[name]`` command with the ``tiny`` flags into ``root/name``, quietly;
    name -> run directory."""
    done = {}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for name, argv in runs.items():
            assert main([*argv, *tiny, "--out", str(root / name)]) == 0, name
            done[name] = str(root / name)
    return done
