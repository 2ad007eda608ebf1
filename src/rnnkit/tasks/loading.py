"""Load whichever trained model a run holds: the task named in its config.json decides.

Used by :func:`rnnkit.load` (all three tasks), :func:`rnnkit.inspect.load_run` and the
exporter (language models and classifiers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rnnkit.errors import CheckpointError, invalid
from rnnkit.tasks.classifier_inference import LoadedClassifier, load_classifier
from rnnkit.tasks.lm_inference import LoadedLanguageModel, checkpoint_dir, load_language_model
from rnnkit.tasks.translation_inference import LoadedTranslator, load_translator
from rnnkit.train.checkpoint import read_config

Loaded = LoadedClassifier | LoadedLanguageModel | LoadedTranslator
LOADERS: dict[str, tuple[str, Callable[..., Any]]] = {
    "lm": ("a language model", load_language_model),
    "classify": ("a classifier", load_classifier),
    "seq2seq": ("a translator", load_translator),
}


def load_run(
    path: str | Path,
    device: str = "cpu",
    expect_sha256: str | None = None,
    tasks: Sequence[str] = tuple(LOADERS),
) -> Loaded:
    """The trained model of a run directory (its best/) or a checkpoint directory.

    ``tasks``: the tasks accepted (any of "lm", "classify", "seq2seq"); another is a
    CheckpointError. ``expect_sha256`` pins the checkpoint: its manifest must have this SHA-256.
    """
    if isinstance(tasks, str) or not tasks or any(t not in LOADERS for t in tasks):
        raise invalid("tasks", tasks, f"a non-empty sequence of {', '.join(map(repr, LOADERS))}")
    task = read_config(checkpoint_dir(path)).get("task")
    if task not in tasks:
        wanted = " or ".join(f"{LOADERS[t][0]} ({t!r})" for t in tasks)
        raise CheckpointError(f"{path}: config.json names the task {task!r}; expected {wanted}")
    return LOADERS[task][1](path, device, expect_sha256)


def check_no_pin(expect_sha256: str | None) -> None:
    """Refuse ``expect_sha256`` beside a model passed already loaded: it pins a directory."""
    if expect_sha256 is not None:
        raise invalid(
            "expect_sha256", expect_sha256, "None for a model already loaded (it pins a directory)"
        )
