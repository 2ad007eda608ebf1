"""Range checks for numbers and paths, and safe JSON parsing, shared by every config and loader.

Each check raises :class:`rnnkit.errors.InvalidArgumentError` (or ``DataError`` for a file)
whose message names the argument, the value and the expected range; bools are not numbers
here, and NaN or ±inf never pass a range. Numbers of other types count as torch and
scikit-learn count them: any ``numbers.Integral`` is an int (``np.int64(3)``), any
``numbers.Real`` a float (``np.float32(0.5)``), returned as the plain Python number::

    check_int("seq_len", 100, 1, MAX_SEQ_LEN)           # -> 100
    check_float("lr", float("inf"), 0, None, lo_open=True)  # InvalidArgumentError: lr=inf: ...

:func:`parse_json` is ``json.loads`` for text from files (data, configs, checkpoints, logs):
every way such text can fail is a ``ValueError``, which its callers turn into their error
naming the file (and line).
"""

from __future__ import annotations

import errno
import json
import math
import numbers
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rnnkit.errors import ArgumentTypeError, DataError, invalid

MAX_SEED = 2**63 - 1  # torch.manual_seed takes a signed 64-bit int
MAX_UNITS = 65_536  # hidden, embedding and attention sizes (a 2-layer LSTM of 65,536 is 69 GB)
MAX_LAYERS = 64  # stacked recurrent layers
MAX_BATCH = 1 << 20  # texts or streams per batch
GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # G: gate blocks per recurrent weight matrix
NAME_MAX, PATH_MAX = 255, 4096  # bytes in one file name and in a whole path (Linux, macOS: 1024)
SHOWN_PATH = 120  # characters of a path shown in a message; a longer one loses its middle


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return "" if hi is None else f"{'<' if hi_open else '<='} {hi:g}"


def check_int(
    name: str, value: Any, lo: int | None = None, hi: int | None = None, optional: bool = False
) -> int | None:
    """``int(value)`` if it is an integer (an int or any ``numbers.Integral`` such as
    ``np.int64``, not a bool) in [lo, hi]; None passes when ``optional``. A value of another
    type is an ArgumentTypeError that names its type."""
    if value is None and optional:
        return None
    shown = f"an int in [{lo}, {hi}]" if lo is not None and hi is not None else (
        f"an int >= {lo}" if lo is not None else "an int"
    )  # fmt: skip
    shown += " or None" if optional else ""
    if not is_integer(value):
        raise invalid(name, value, shown + _not(value), ArgumentTypeError)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise invalid(name, value, shown)
    return int(value)


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer as torch and scikit-learn take one: a
    ``numbers.Integral`` (int, ``np.int64``, ...), never a bool (nor ``np.bool_``)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number: a ``numbers.Real`` (int, float, ``np.float32``,
    ...), never a bool (nor ``np.bool_``); it may still be NaN or ±inf."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _not(value: Any) -> str:
    """The end of a message whose value has the wrong type: ", not a str" for "3"."""
    return f", not a {type(value).__name__}" if value is not None else ", not None"


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
    """``float(value)`` if it is a finite real number (any ``numbers.Real``: int, float,
    ``np.float32``, ...; not a bool) in the interval. A value of another type is an
    ArgumentTypeError that names its type."""
    if value is None and optional:
        return None
    expected = f"a finite number {_interval(lo, hi, lo_open, hi_open)}"
    if not is_real(value):
        raise invalid(name, value, expected + (" or None" if optional else "") + _not(value),
                      ArgumentTypeError)  # fmt: skip
    if not math.isfinite(value):
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
    check_memory(name, value, parameters * 4, f"a smaller model: {parameters:,} parameters")


def check_memory(name: str, value: Any, needed: int, what: str) -> None:
    """Refuse ``name=value`` when ``what`` needs more than this machine's physical memory
    (``needed`` bytes): one line instead of a MemoryError or the kernel's OOM killer."""
    total = _physical_memory()
    if total and needed > total:
        raise invalid(
            name, value, f"{what} need {needed / 2**30:,.1f} GiB; this machine has "
            f"{total / 2**30:,.1f} GiB",
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


def parse_json(text: str | bytes, unique_keys: bool = False) -> Any:
    """``json.loads(text)``, where every failure is a ``ValueError`` with a short reason.

    ``unique_keys`` refuses an object that holds a key twice (``json.loads`` keeps the last).

    ``json.loads`` raises ``RecursionError`` for arrays or objects nested deeper than Python's
    recursion limit (``[[[[...``) and a plain ``ValueError`` for an integer of more than 4,300
    digits (``sys.get_int_max_str_digits``); both become a ``ValueError`` saying so. A
    ``json.JSONDecodeError`` (with ``msg``, ``lineno``, ``colno``) and the ``UnicodeDecodeError``
    of bytes that are not UTF-8 pass unchanged; both are ``ValueError`` too.
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_keys if unique_keys else None)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply to parse") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise
    except ValueError as exc:
        if "digits" not in str(exc):
            raise
        limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()  # Python >= 3.10.7
        raise ValueError(f"an integer of more than {limit:,} digits") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's dict; ValueError naming a key the object holds twice."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


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
    problem = path_problem(path)
    if problem is None:
        if path.is_dir():
            problem = "is a directory"
        elif not path.is_file():
            problem = "is not a regular file (a pipe, socket or device)"
        elif not os.access(path, os.R_OK):
            problem = "is not readable (permission denied)"
    if problem:
        raise DataError(f"{name} {show_path(path)}: {problem}; expected {what}")
    return path


def check_output_path(
    name: str, value: str | os.PathLike | None, what: str = "a directory for the run"
) -> Path:
    """A directory that exists and is writable, or that can be created (nothing is created).

    Raises DataError for an empty path, an existing file, a path under a file, or a directory
    (or nearest existing ancestor) that this process may not write to.
    """
    path = _nonempty_path(name, value, what)
    problem = path_problem(path)
    if problem is None and not path.is_dir():
        raise DataError(f"{name} {show_path(path)}: is a file; expected {what}")
    if problem and problem != "does not exist":
        raise DataError(f"{name} {show_path(path)}: {problem}; expected {what}")
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
        problem = "is a directory" if path.is_dir() else path_problem(path)
        if problem is None and not path.is_file():  # a writer would block on a pipe forever
            problem = "is not a regular file (a pipe, socket or device)"
    except OSError as exc:  # e.g. a name too long for the file system
        problem = exc.strerror or str(exc)
    if problem and problem != "does not exist":
        raise DataError(f"{name} {show_path(path)}: {problem}; expected {what}")
    if existing_directory and not path.absolute().parent.is_dir():
        raise invalid(name, str(value), "a file in an existing directory")
    if problem is None and not os.access(path, os.W_OK):
        raise DataError(
            f"{name} {show_path(path)}: is not writable (permission denied); expected {what}"
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
        raise DataError(f"{name} {show_path(path)}: {problem}; expected {what}") from None


def show_path(path: str | os.PathLike) -> str:
    """``repr(str(path))`` for a message; a path over 120 characters keeps its first and last 58
    and says how long it was (a 5,000-character name would drown the message)."""
    text = str(path)
    if len(text) <= SHOWN_PATH:
        return repr(text)
    keep = (SHOWN_PATH - 4) // 2
    return f"{text[:keep] + '...' + text[-keep:]!r} ({len(text):,} characters)"


def check_path_type(name: str, value: Any, what: str) -> Path:
    """``Path(value)`` for a str or os.PathLike; else an ArgumentTypeError naming ``name``."""
    if not isinstance(value, (str, os.PathLike)):
        raise invalid(name, value, f"a str or os.PathLike path: {what}", ArgumentTypeError)
    return Path(value)


def _nonempty_path(name: str, value: str | os.PathLike | None, what: str) -> Path:
    if value is None or not str(value).strip():
        raise DataError(f"{name} {str(value)!r}: empty path; expected {what}")
    check_path_type(name, value, what)
    problem = _unusable_name(Path(value))
    if problem:
        raise DataError(f"{name} {show_path(value)}: {problem}; expected {what}")
    return Path(value)


def _unusable_name(path: Path) -> str | None:
    """Why no file system can hold ``path`` (a NUL, a lone surrogate, a name over NAME_MAX bytes
    or a path over PATH_MAX), or None; checked without touching the file system."""
    text = str(path)
    if "\x00" in text:
        return "holds a NUL character"
    try:
        encoded = os.fsencode(text)
    except UnicodeEncodeError as exc:
        return f"holds {exc.object[exc.start : exc.end]!r}, which a file name cannot encode"
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > NAME_MAX:
        return f"has a name too long for a file system ({longest:,} bytes; at most {NAME_MAX})"
    if len(encoded) >= PATH_MAX:
        return f"is too long for a file system ({len(encoded):,} bytes; at most {PATH_MAX - 1:,})"
    return None


def path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used (an unusable name, under a file, a broken link, a link loop,
    missing), or None when it exists. Never raises for any str path."""
    problem = _unusable_name(path)
    if problem:
        return problem
    try:
        path.stat()
        return None
    except NotADirectoryError:
        parent = next((p for p in path.parents if p.is_file()), None)
        return f"is under {str(parent)!r}, which is a file" if parent else "is under a file"
    except FileNotFoundError:
        return "is a broken symbolic link" if path.is_symlink() else "does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if exc.errno == errno.ENAMETOOLONG:
            return "is too long a name for the file system"
        return f"cannot be accessed ({exc.strerror})"


def check_strings(name: str, value: Any, expected: str, each: str) -> list[str]:
    """``value`` as a list of str: an iterable, not one str or bytes (whose items would be its
    characters); an ArgumentTypeError says ``expected`` for the whole, or ``each`` naming the
    first item that is not a str (``name[i]``)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise invalid(name, value, expected, ArgumentTypeError)
    items = list(value)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise invalid(f"{name}[{index}]", item, each, ArgumentTypeError)
    return items


SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: not encodable as UTF-8


def check_unicode(text: str, name: str) -> None:
    """Refuse a text holding a lone surrogate, naming where it is (an ASCII text costs nothing)."""
    if text.isascii():
        return
    found = SURROGATE.search(text)
    if found:
        raise invalid(
            name, text, f"valid Unicode text: character {found.start()} is a lone surrogate "
            f"{found.group()!r}, which UTF-8 cannot encode",
        )  # fmt: skip
