"""The run directory: which ``--out`` a run may use, and what ``--resume`` may change.

A run directory holds the run's ``config.json``, ``metrics.jsonl``, ``loss.png`` and the
checkpoints ``best/`` and ``last/`` (see rnnkit.train.checkpoint). :func:`check_run_dir` runs
before any data is read; :func:`check_output_dir` compares the full config once it is built;
both refuse a run to resume whose files are damaged (:func:`check_run_files`), so that it
fails at the start, not at its first save. :func:`recover_interrupted_saves` puts back a
checkpoint whose save was killed mid-swap.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rnnkit.errors import CheckpointError
from rnnkit.train.checkpoint import (
    CONFIG,
    MANIFEST,
    MODEL_KEYS,
    is_checkpoint,
    json_bytes,
    read_json,
    resolve_checkpoint,
)
from rnnkit.train.metrics import MetricLog
from rnnkit.validation import check_output_path

try:
    import fcntl
except ImportError:  # no flock on this platform (Windows)
    fcntl = None

RUN_FILES = (CONFIG, "metrics.jsonl", "loss.png")  # files of a run directory, beside
CHECKPOINTS = ("best", "last")  # its checkpoint directories
LOCK = ".rnnkit.lock"  # held by the run writing the directory (see exclusive)


@contextlib.contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s lock for the block (the directory is made if missing): a second
    run given the same --out while this one runs is refused, instead of both writing
    config.json, metrics.jsonl and the checkpoints into one another. An advisory ``flock``,
    released when the process ends however it ends; where there is none (Windows) nothing
    is locked. A path that is a file is left to the checks that name it.

    Raises:
        CheckpointError: another process holds the lock, naming its pid.
    """
    if fcntl is None or (directory.exists() and not directory.is_dir()):
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise CheckpointError(
                f"--out {directory}: another rnnkit run (pid {holder}) is writing to it; "
                "expected an --out no running job uses"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _holds_files(directory: Path) -> bool:
    """Does ``directory`` hold anything besides a run's lock file?"""
    return any(entry.name != LOCK for entry in directory.iterdir())


def recover_interrupted_saves(directory: str | Path) -> list[Path]:
    """Put back each checkpoint of ``directory`` whose save was killed between its renames.

    Such a save leaves ``.<name>.old-*`` (the complete old checkpoint) and no ``<name>``;
    the old one is renamed back. Returns the checkpoints recovered.
    """
    recovered = []
    for old in sorted(Path(directory).glob(".*.old-*")):
        target = old.parent / old.name[1:].rsplit(".old-", 1)[0]
        if not target.exists() and is_checkpoint(old):
            old.rename(target)
            recovered.append(target)
    return recovered


def check_run_dir(directory: str | Path, task: str, resume: bool) -> Path:
    """The checks on a run directory that need no data: run them before reading any.

    ``directory`` must be a writable directory or creatable; when it holds files they must be
    an rnnkit run of the same ``task`` and ``resume`` must be given.

    Raises:
        DataError: empty path, a file, under a file, not writable.
        CheckpointError: holds other files, another task's run, or a run without ``resume``.
    """
    out = check_output_path("--out", directory)
    if not out.is_dir() or not _holds_files(out):
        return out
    stored = _stored_config(out)
    if stored is None:
        raise CheckpointError(
            f"--out {out}: not empty and holds no rnnkit run; choose another --out"
        )
    if not resume:
        raise CheckpointError(
            f"--out {out}: already holds a run; pass --resume to continue it "
            "or choose another --out"
        )
    if stored.get("task") != task:
        raise CheckpointError(
            f"--resume {out}: holds a {stored.get('task')!r} run; expected a {task!r} run "
            "(the task differs: choose another --out)"
        )
    check_run_files(out)
    return out


def check_run_files(out: Path) -> None:
    """Refuse a run directory to resume whose files would fail later: ``best``/``last`` that
    are files or directories of something else, or whose manifest.json or config.json is not
    a JSON object; ``config.json``, ``metrics.jsonl`` or ``loss.png`` that are not files, a
    ``config.json`` that is not a JSON object, or a ``metrics.jsonl`` whose lines are not
    records (a torn last line is fine). The weights are verified when they are loaded.

    Raises:
        CheckpointError: naming the file or directory and what it should be.
        DataError: a line of metrics.jsonl, named by file and line.
    """
    for name in CHECKPOINTS:
        path = out / name
        if is_checkpoint(path):
            read_json(path / MANIFEST)
            read_json(path / CONFIG)
        elif path.exists() and not (path.is_dir() and not any(path.iterdir())):
            raise CheckpointError(
                f"--resume {path}: {'is a file' if path.is_file() else 'holds no manifest.json'}; "
                "expected the run's checkpoint directory (move it away, or choose another --out)"
            )
    for name in RUN_FILES:
        if (out / name).exists() and not (out / name).is_file():
            raise CheckpointError(
                f"--resume {out / name}: is not a file; expected the run's {name} (move it away)"
            )
    if (out / CONFIG).is_file():
        read_json(out / CONFIG)
    MetricLog(out / "metrics.jsonl").read()


def check_output_dir(
    directory: str | Path,
    config: dict[str, Any],
    resume: bool,
    model_keys: Sequence[str] = MODEL_KEYS,
) -> bool:
    """Apply the output-directory rule; return True when there is a checkpoint to resume.

    A run directory holds checkpoints (itself, or ``last/``, ``best/`` in it) and the run's
    ``config.json``. The rule: a missing or empty directory is fine (a fresh run, even with
    ``resume``, so a restartable job can always pass ``--resume``). A directory holding a run
    needs ``resume``, and then the stored config's ``model_keys`` (sections, or dotted keys
    such as ``trainer.lr``) must mean the same as ``config``'s: equal values, or paths to the
    same file. A run stopped before its first checkpoint (only ``config.json``) is started
    afresh. A non-empty directory without a run is refused. Nothing is overwritten here.

    Raises:
        CheckpointError: naming the directory, or the differing config keys.
    """
    out = Path(directory)
    if not out.exists() or (out.is_dir() and not _holds_files(out)):
        return False
    if not out.is_dir():
        raise CheckpointError(f"--out {out}: is a file; expected a directory for the run")
    found = [out] if is_checkpoint(out) else sorted(p for p in out.iterdir() if is_checkpoint(p))
    stored_run = _stored_config(out)
    if stored_run is None:
        raise CheckpointError(
            f"--out {out}: not empty and holds no rnnkit checkpoint; choose another --out"
        )
    if not resume:
        raise CheckpointError(
            f"--out {out}: already holds a run; pass --resume to continue it "
            "or choose another --out"
        )
    check_run_files(out)
    given = _flatten(json.loads(json_bytes(_select(config, model_keys), "config")))
    stored_configs = [read_json(ckpt / CONFIG) for ckpt in found] or [stored_run]
    for where, stored_config in zip(found or [out / CONFIG], stored_configs, strict=True):
        stored = _flatten(_select(stored_config, model_keys))
        differ = sorted(k for k in given.keys() | stored.keys() if not _same(given.get(k), stored.get(k)))
        if differ:
            shown = ", ".join(_difference(k, stored, given) for k in differ[:5])
            raise CheckpointError(
                f"--resume {where}: settings that must stay fixed differ: {shown}; expected "
                "the stored run's settings, or another --out"
            )
    if is_checkpoint(out):
        return True
    try:  # a run killed before its first save, or between best/ and last/, starts afresh
        return is_checkpoint(resolve_checkpoint(out / "last"))
    except CheckpointError:
        return False


def _difference(key: str, stored: dict[str, Any], given: dict[str, Any]) -> str:
    """One differing setting for the message. A setting the stored run lacks was added to
    rnnkit after the run was saved (docs/reliability.md names the value an old run needs)."""
    if key not in stored:
        return f"{key} (absent from the stored run: saved before rnnkit had it; given {given[key]!r})"
    return f"{key} (stored {stored[key]!r}, given {given.get(key)!r})"


def _stored_config(out: Path) -> dict[str, Any] | None:
    """The run config in ``out`` (its config.json, or a checkpoint's), or None if none."""
    for candidate in (out / CONFIG, out / "last" / CONFIG, out / "best" / CONFIG):
        if candidate.is_file():
            with contextlib.suppress(CheckpointError):
                stored = read_json(candidate)
                if "task" in stored:
                    return stored
    return None


def _select(config: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``{key: value}`` of sections (``"model"``) or dotted keys (``"trainer.lr"``)."""
    picked: dict[str, Any] = {}
    for key in keys:
        value: Any = config
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        picked[key] = value
    return picked


def _same(given: Any, stored: Any) -> bool:
    """Equal values, or two spellings (relative, absolute, via a link) of one existing path."""
    if given == stored:
        return True
    if not (isinstance(given, str) and isinstance(stored, str)) or not given or not stored:
        return False
    try:
        return os.path.samefile(given, stored)
    except OSError:
        return False


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``, so differing settings can be named."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}
