"""Where rnnkit's messages go: the ``rnnkit`` logger, a console handler, Keras' ``verbose``.

Library code never prints; it logs to ``logging.getLogger("rnnkit")`` and its children
(``rnnkit.train``, ``rnnkit.tasks``, ...). Without a handler nothing is shown, as for any
library. The CLI installs :func:`console_handler` once; the Python API's ``fit(verbose=...)``
uses :func:`verbosity`: 0 silences rnnkit for the call, 1 and 2 show its messages on stderr
(attaching the console handler for the call unless the ``rnnkit`` logger has its own).

The CLI runs each command inside :func:`hold_records`: what is logged while the inputs are
still being read and checked (skipped rows, embedding coverage, the data summary) is shown
once the Trainer has accepted its run directory (:func:`release_records`) or the command has
succeeded, and dropped when it fails, so that a failed command prints its error line alone.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

from tqdm.auto import tqdm

from rnnkit.errors import invalid

logger = logging.getLogger("rnnkit")
_held: list[logging.LogRecord] | None = None  # records held by hold_records, in order
_saved: tuple[list[logging.Handler], bool] | None = None  # the logger's handlers and propagate


class _Holder(logging.Handler):
    """Keeps the records of the ``rnnkit`` loggers for :func:`release_records`."""

    def emit(self, record: logging.LogRecord) -> None:
        if _held is not None:
            _held.append(record)


class TqdmHandler(logging.StreamHandler):
    """A stderr handler that writes around an active tqdm bar instead of through it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


def console_handler(level: int = logging.INFO) -> logging.Handler:
    """Attach (once) a plain-message stderr handler to the ``rnnkit`` logger; return it."""
    for handler in logger.handlers:
        if isinstance(handler, TqdmHandler):
            return handler
    handler = TqdmHandler()
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


@contextlib.contextmanager
def hold_records() -> Iterator[None]:
    """Within the block, hold the records of the ``rnnkit`` loggers instead of handling them.

    :func:`release_records` (the Trainer calls it once its run directory passed its checks)
    or the block's normal end handles them, in order, as they would have been; a block that
    raises drops them. Not reentrant: an inner block holds nothing more.
    """
    global _held, _saved
    if _held is not None:
        yield
        return
    _held, _saved = [], (logger.handlers[:], logger.propagate)
    logger.handlers, logger.propagate = [_Holder()], False
    try:
        yield
    except BaseException:
        _stop_holding()
        raise
    release_records()


def release_records() -> None:
    """Handle the records :func:`hold_records` holds and stop holding; else do nothing."""
    held = _stop_holding()
    for record in held:
        logging.getLogger(record.name).handle(record)


def _stop_holding() -> list[logging.LogRecord]:
    """Put the ``rnnkit`` logger's handlers back; the records held until now."""
    global _held, _saved
    held = _held or []
    if _saved is not None:
        logger.handlers, logger.propagate = _saved
    _held, _saved = None, None
    return held


@contextlib.contextmanager
def verbosity(verbose: int) -> Iterator[None]:
    """Within the block: verbose 0 silences rnnkit's logs; 1 or 2 shows INFO on stderr.

    With 1 or 2 and no handler on the ``rnnkit`` logger itself, the console handler is attached
    for the block and the records do not propagate (so a root handler does not repeat them);
    attach your own handler to ``logging.getLogger("rnnkit")`` to route them elsewhere.
    """
    if verbose not in (0, 1, 2):
        raise invalid("verbose", verbose, "0 (silent), 1 (progress bar) or 2 (plain lines)")
    level, propagate, added = logger.level, logger.propagate, None
    if verbose == 0:
        logger.setLevel(logging.WARNING)
    elif not logger.handlers:
        added = TqdmHandler()
        logger.addHandler(added)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate
        if added is not None:
            logger.removeHandler(added)
