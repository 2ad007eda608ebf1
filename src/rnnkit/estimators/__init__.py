"""The user-facing models: :class:`TextClassifier`, :class:`LanguageModel` and :func:`load`.

Their arguments are the fields of the config dataclasses (rnnkit.models, rnnkit.tasks), with
the same defaults; training goes through the same functions as the ``rnnkit`` command line.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.errors import CheckpointError
from rnnkit.estimators.classifier import TextClassifier
from rnnkit.estimators.language_model import LanguageModel
from rnnkit.tasks.classifier_inference import load_classifier
from rnnkit.tasks.lm_inference import checkpoint_dir, load_language_model
from rnnkit.train.checkpoint import read_config

__all__ = ["LanguageModel", "TextClassifier", "load"]


def load(path: str | Path, device: str = "cpu") -> TextClassifier | LanguageModel:
    """A saved model: ``save()``'s directory, a run directory (its best/) or a checkpoint.

    Returns a fitted TextClassifier or LanguageModel, with the arguments it was trained with.
    """
    task = read_config(checkpoint_dir(path)).get("task")
    if task == "classify":
        return TextClassifier.from_fitted(load_classifier(path, device))
    if task == "lm":
        return LanguageModel.from_fitted(load_language_model(path, device))
    raise CheckpointError(
        f"{path}: config.json names the task {task!r}; expected 'classify' or 'lm'"
    )
