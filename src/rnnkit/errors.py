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


class DataError(RnnkitError, ValueError):
    """An input file or text is empty, malformed or unusable; the message names file and line."""


class CheckpointError(RnnkitError, ValueError):
    """A checkpoint is missing, incomplete, altered, or belongs to a different run."""


def invalid(name: str, value: Any, expected: str) -> InvalidArgumentError:
    """Build the standard message ``name=value: expected ...`` as an InvalidArgumentError.

    Usage: ``raise invalid("temperature", t, "a number > 0")``.
    """
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    error = InvalidArgumentError(f"{name}={shown}: expected {expected}")
    error.argument = name  # the CLI shows it as its flag (hidden_size -> --hidden)
    return error
