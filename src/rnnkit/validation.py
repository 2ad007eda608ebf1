"""Range checks for numbers and paths, and safe JSON parsing, shared by every config and loader.

Each check raises :class:`rnnkit.errors.InvalidArgumentError` (or ``DataError`` for a file)
whose message names the argument, the value and the expected range; bools are not numbers
here, and NaN or ±inf never pass a range::

    check_int("seq_len", 100, 1, MAX_SEQ_LEN)           # -> 100
    check_float("lr", float("inf"), 0, None, lo_open=True)  # InvalidArgumentError: lr=inf: ...

:func:`parse_json` is ``json.loads`` for text from files (data, configs, checkpoints, logs):
every way such text can fail is a ``ValueError``, which its callers turn into their error
naming the file (and line).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from rnnkit.errors import ArgumentTypeError, DataError, invalid

MAX_SEED = 2**63 - 1  # torch.manual_seed takes a signed 64-bit int
MAX_UNITS = 65_536  # hidden, embedding and attention sizes (a 2-layer LSTM of 65,536 is 69 GB)
MAX_LAYERS = 64  # stacked recurrent layers
MAX_BATCH = 1 << 20  # texts or streams per batch
GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # G: gate blocks per recurrent weight matrix


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return "" if hi is None else f"{'<' if hi_open else '<='} {hi:g}"


def check_int(
    name: str, value: Any, lo: int | None = None, hi: int | None = None, optional: bool = False
) -> int | None:
    """``value`` if it is an int (not a bool) in [lo, hi]; None passes when ``optional``."""
    if value is None and optional:
        return None
    shown = f"an int in [{lo}, {hi}]" if lo is not None and hi is not None else (
        f"an int >= {lo}" if lo is not None else "an int"
    )  # fmt: skip
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(name, value, shown + (" or None" if optional else ""))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise invalid(name, value, shown)
    return value


def check_float(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    optional: bool = False,
) -> float | None:
    """``value`` if it is a finite real number (int or float, not bool) in the interval."""
    if value is None and optional:
        return None
    expected = f"a finite number {_interval(lo, hi, lo_open, hi_open)}"
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise invalid(name, value, expected + (" or None" if optional else ""))
    low_bad = lo is not None and (value <= lo if lo_open else value < lo)
    high_bad = hi is not None and (value >= hi if hi_open else value > hi)
    if low_bad or high_bad:
        raise invalid(name, value, expected)
    return float(value)


def check_seed(name: str, value: Any, optional: bool = False) -> int | None:
    """A seed: an int in [0, 2**63 - 1] (what torch's generators accept)."""
    return check_int(name, value, 0, MAX_SEED, optional=optional)


def recurrent_parameters(cell: str, layers: int, hidden: int, inputs: int, dirs: int = 1) -> int:
    """Parameters of a stack: dirs * G*H*(E' + H + 2) per layer, E' = inputs, then dirs*H."""
    gates = GATES.get(cell, 4) * hidden
    first = gates * (inputs + hidden + 2)
    rest = gates * (dirs * hidden + hidden + 2)
    return dirs * (first + (layers - 1) * rest)


def check_fits_in_memory(name: str, value: Any, parameters: int) -> None:
    """Refuse a model whose fp32 weights alone exceed this machine's physical memory.

    Caught here, a too-large ``--hidden`` is one line; caught by the allocator it is a
    traceback, or the kernel's OOM killer. ``name=value`` is the setting reported. (Training
    needs about 4x the weights: gradients and two Adam moments.)
    """
    needed = parameters * 4
    total = _physical_memory()
    if total and needed > total:
        raise invalid(
            name, value, f"a smaller model: {parameters:,} parameters need {needed / 2**30:,.1f} "
            f"GiB of weights; this machine has {total / 2**30:,.1f} GiB",
        )  # fmt: skip


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise invalid(name, value, f"one of {', '.join(map(str, choices))}")
    return value


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``, where every failure is a ``ValueError`` with a short reason.

    ``json.loads`` raises ``RecursionError`` for arrays or objects nested deeper than Python's
    recursion limit (``[[[[...``) and a plain ``ValueError`` for an integer of more than 4,300
    digits (``sys.get_int_max_str_digits``); both become a ``ValueError`` saying so. A
    ``json.JSONDecodeError`` (with ``msg``, ``lineno``, ``colno``) and the ``UnicodeDecodeError``
    of bytes that are not UTF-8 pass unchanged; both are ``ValueError`` too.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply to parse") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except ValueError as exc:
        if "digits" not in str(exc):
            raise
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()  # Python >= 3.10.7
        raise ValueError(f"an integer of more than {limit:,} digits") from None


def json_problem(exc: ValueError) -> str:
    """The reason a :func:`parse_json` error gives, without a position (callers name the line)."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, UnicodeDecodeError):
        return f"bytes {exc.object[exc.start : exc.start + 4]!r} are not valid UTF-8"
    return str(exc)


def check_input_file(name: str, value: str | os.PathLike | None, what: str = "a file") -> Path:
    """A path to an existing regular, readable file; the error names the real problem.

    Empty path, missing file, a path under a file, a broken symlink, a directory, a FIFO or
    device, or a file the process may not read are each reported as such (a DataError).
    """
    path = _nonempty_path(name, value, what)
    problem = _path_problem(path)
    if problem is None:
        if path.is_dir():
            problem = "is a directory"
        elif not path.is_file():
            problem = "is not a regular file (a pipe, socket or device)"
        elif not os.access(path, os.R_OK):
            problem = "is not readable (permission denied)"
    if problem:
        raise DataError(f"{name} {str(path)!r}: {problem}; expected {what}")
    return path


def check_output_path(
    name: str, value: str | os.PathLike | None, what: str = "a directory for the run"
) -> Path:
    """A directory that exists and is writable, or that can be created (nothing is created).

    Raises DataError for an empty path, an existing file, a path under a file, or a directory
    (or nearest existing ancestor) that this process may not write to.
    """
    path = _nonempty_path(name, value, what)
    if path.exists() and not path.is_dir():
        raise DataError(f"{name} {str(path)!r}: is a file; expected {what}")
    problem = _path_problem(path)
    if problem and problem != "does not exist":
        raise DataError(f"{name} {str(path)!r}: {problem}; expected {what}")
    _check_writable(name, path, path, what)
    return path


def check_output_file(
    name: str, value: str | os.PathLike | None, what: str, existing_directory: bool = False
) -> Path:
    """A file to write: not empty, not a directory, not under a file, not a broken link, in a
    directory (or, when that is missing, nearest existing ancestor) this process may write to.

    Its directory may be missing (the writer creates it) unless ``existing_directory``.
    Raises DataError naming the problem (InvalidArgumentError for a missing directory).
    """
    path = _nonempty_path(name, value, what)
    try:
        problem = "is a directory" if path.is_dir() else _path_problem(path)
        if problem is None and not path.is_file():  # a writer would block on a pipe forever
            problem = "is not a regular file (a pipe, socket or device)"
    except OSError as exc:  # e.g. a name too long for the file system
        problem = exc.strerror or str(exc)
    if problem and problem != "does not exist":
        raise DataError(f"{name} {str(path)!r}: {problem}; expected {what}")
    if existing_directory and not path.absolute().parent.is_dir():
        raise invalid(name, str(value), "a file in an existing directory")
    if problem is None and not os.access(path, os.W_OK):
        raise DataError(
            f"{name} {str(path)!r}: is not writable (permission denied); expected {what}"
        )
    _check_writable(name, path, path.absolute().parent, what)
    return path


def _check_writable(name: str, path: Path, directory: Path, what: str) -> None:
    """Refuse ``path`` when ``directory``, or its nearest existing ancestor, is not writable."""
    existing = next(p for p in (directory, *directory.absolute().parents) if p.exists())
    try:  # a real probe: os.access says yes to root on read-only or virtual file systems
        os.rmdir(tempfile.mkdtemp(prefix=".rnnkit-probe-", dir=existing))
    except OSError as exc:
        problem = f"{existing} is not writable ({exc.strerror})"
        raise DataError(f"{name} {str(path)!r}: {problem}; expected {what}") from None


def check_path_type(name: str, value: Any, what: str) -> Path:
    """``Path(value)`` for a str or os.PathLike; else an ArgumentTypeError naming ``name``."""
    if not isinstance(value, (str, os.PathLike)):
        raise invalid(name, value, f"a str or os.PathLike path: {what}", ArgumentTypeError)
    return Path(value)


def _nonempty_path(name: str, value: str | os.PathLike | None, what: str) -> Path:
    if value is None or not str(value).strip():
        raise DataError(f"{name} {str(value)!r}: empty path; expected {what}")
    check_path_type(name, value, what)
    if "\x00" in str(value):
        raise DataError(f"{name} {str(value)!r}: holds a NUL character; expected {what}")
    return Path(value)


def _path_problem(path: Path) -> str | None:
    """Why ``path`` cannot exist (under a file, broken link, missing), or None when it exists."""
    try:
        path.stat()
        return None
    except NotADirectoryError:
        parent = next((p for p in path.parents if p.is_file()), None)
        return f"is under {str(parent)!r}, which is a file" if parent else "is under a file"
    except FileNotFoundError:
        return "is a broken symbolic link" if path.is_symlink() else "does not exist"
    except OSError as exc:
        return f"cannot be accessed ({exc.strerror})"
