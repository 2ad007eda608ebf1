"""What the estimators' ``fit`` and ``save`` share: the run directory and its records, the
check of ``callbacks``."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rnnkit.errors import ArgumentTypeError, invalid
from rnnkit.text import TextVectorizer
from rnnkit.train.callbacks import Callback
from rnnkit.train.checkpoint import save_checkpoint
from rnnkit.train.metrics import MetricLog
from rnnkit.validation import check_output_path

HOOKS = ("on_train_begin", "on_step_end", "on_eval_end", "on_train_end")  # what Trainer calls
_CALLBACKS = "a list of rnnkit.callbacks objects (Callback subclasses)"


def check_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` as a list; each a :class:`Callback` or an object with all its hooks.

    Raises:
        ArgumentTypeError: not a list (a single callback: wrap it as ``[callback]``), or an
            element that is a class or lacks the hooks, naming it (``callbacks[0]``).
    """
    if isinstance(callbacks, (str, bytes, Callback)) or not isinstance(callbacks, Iterable):
        raise invalid("callbacks", callbacks, f"{_CALLBACKS}; wrap one as [callback]",
                      ArgumentTypeError)  # fmt: skip
    listed = list(callbacks)
    for i, callback in enumerate(listed):
        if isinstance(callback, type):  # the class itself: its hooks want an instance
            raise invalid(f"callbacks[{i}]", callback,
                          f"a Callback instance: call the class, {callback.__name__}(...)",
                          ArgumentTypeError)  # fmt: skip
        if not all(callable(getattr(callback, hook, None)) for hook in HOOKS):
            raise invalid(f"callbacks[{i}]", callback, f"a Callback with the hooks {', '.join(HOOKS)}",
                          ArgumentTypeError)  # fmt: skip
    return listed


@contextlib.contextmanager
def run_directory(out: str | Path | None) -> Iterator[Path]:
    """``out`` (kept: config.json, metrics.jsonl, best/, last/), or a temporary one deleted after.

    ``out`` is checked first, as ``rnnkit train --out`` is: a path (not a file, not under a
    file) to a directory that exists and is writable or can be created.
    """
    if out is not None:
        yield check_output_path("out", out)
        return
    with tempfile.TemporaryDirectory(prefix="rnnkit-") as tmp:
        yield Path(tmp) / "run"


def history(out: Path) -> list[dict[str, Any]]:
    """The records of a run's metrics.jsonl: train_loss every log_every steps, val_* metrics."""
    return MetricLog(out / "metrics.jsonl").read()  # [] before the first record


def save_fitted(
    path: str | Path, fitted: Any, what: str, extra: dict[str, Any] | None = None
) -> Path:
    """Write a fitted model (weights, config, vocabulary) as a checkpoint directory ``path``.

    The vocabulary is ``fitted.vocab()`` where the model has several vectorizers (an
    encoder-decoder's source and target), else ``fitted.vectorizer``'s.
    """
    if fitted is None:
        raise invalid("self", f"an unfitted {what}", "a fitted model: call fit first")
    path = check_output_path("path", path, "a directory for the checkpoint")
    if hasattr(fitted, "vocab"):
        vocab = fitted.vocab()
    else:
        vectorizer: TextVectorizer = fitted.vectorizer
        vocab = vectorizer.to_dict()
    config = fitted.config | (extra or {})
    return save_checkpoint(path, fitted.model.state_dict(), config, vocab)
