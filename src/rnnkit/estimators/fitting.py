"""What both estimators' ``fit`` and ``save`` share: the run directory and its records."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rnnkit.errors import invalid
from rnnkit.text import TextVectorizer
from rnnkit.train.checkpoint import save_checkpoint


@contextlib.contextmanager
def run_directory(out: str | Path | None) -> Iterator[Path]:
    """``out`` (kept: config.json, metrics.jsonl, best/, last/), or a temporary one deleted after."""
    if out is not None:
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="rnnkit-") as tmp:
        yield Path(tmp) / "run"


def history(out: Path) -> list[dict[str, Any]]:
    """The records of a run's metrics.jsonl: train_loss every log_every steps, val_* metrics."""
    path = out / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def save_fitted(
    path: str | Path, fitted: Any, what: str, extra: dict[str, Any] | None = None
) -> Path:
    """Write a fitted model (weights, config, vocabulary) as a checkpoint directory ``path``."""
    if fitted is None:
        raise invalid("self", f"an unfitted {what}", "a fitted model: call fit first")
    vectorizer: TextVectorizer = fitted.vectorizer
    config = fitted.config | (extra or {})
    return save_checkpoint(path, fitted.model.state_dict(), config, vectorizer.to_dict())
