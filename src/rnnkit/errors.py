"""The few exception types rnnkit raises.

Every message names the argument (or file and line), the value seen and what was expected.
The CLI turns any :class:`RnnkitError` into one line on stderr and exit status 2.
"""

from __future__ import annotations

from typing import Any


class RnnkitError(Exception):
    """Base class of rnnkit's own errors (the CLI reports these without a traceback)."""


class InvalidArgumentError(RnnkitError, ValueError):
    """An argument has a value, type or shape that the function does not accept."""

    argument: str | None = None  # the argument's name, when built by invalid()


class ShapeMismatchError(InvalidArgumentError, RuntimeError):
    """A tensor's shape does not fit the module (torch.nn raises RuntimeError there).

    Also a ValueError, like every :class:`InvalidArgumentError`, so either ``except`` catches it.
    """


class DeviceMismatchError(InvalidArgumentError, RuntimeError):
    """Tensors that must share a device do not (torch's kernels raise RuntimeError there)."""


class ArgumentTypeError(InvalidArgumentError, TypeError):
    """An argument has the wrong type, e.g. a float or a string where torch.nn wants an int or
    a bool (torch.nn raises TypeError there); also a ValueError."""


class StateTypeError(ArgumentTypeError, AttributeError):
    """A recurrent layer's input or state that is not a tensor where torch.nn calls a tensor
    method on it (a list as input, a tuple for a GRU's h_0, None inside an LSTM cell's (h, c)),
    so torch.nn raises AttributeError; also a TypeError and a ValueError."""


class NotFittedError(InvalidArgumentError, AttributeError):
    """An estimator or vectorizer used before ``fit`` / ``adapt``: a ValueError and an
    AttributeError, as scikit-learn's NotFittedError is (``hasattr`` answers False)."""


class DataError(RnnkitError, ValueError):
    """An input file or text is empty, malformed or unusable; the message names file and line."""


class CheckpointError(RnnkitError, ValueError):
    """A checkpoint is missing, incomplete, altered, or belongs to a different run."""


class MissingDependencyError(RnnkitError, ImportError):
    """An optional dependency is not installed; the message names the pip extra to install."""


def invalid(
    name: str, value: Any, expected: str, error: type[InvalidArgumentError] = InvalidArgumentError
) -> InvalidArgumentError:
    """Build the standard message ``name=value: expected ...`` as an InvalidArgumentError
    (or the given subclass: :class:`ShapeMismatchError`, :class:`ArgumentTypeError`).

    Usage: ``raise invalid("temperature", t, "a number > 0")``.
    """
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    exc = error(f"{name}={shown}: expected {expected}")
    exc.argument = name  # the CLI shows it as its flag (hidden_size -> --hidden)
    return exc
