"""The user-facing models: :class:`TextClassifier`, :class:`LanguageModel`, :class:`Seq2Seq`
and :func:`load`.

Their arguments are the fields of the config dataclasses (rnnkit.models, rnnkit.tasks), with
the same defaults; training goes through the same functions as the ``rnnkit`` command line.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.errors import CheckpointError
from rnnkit.estimators.classifier import TextClassifier
from rnnkit.estimators.language_model import LanguageModel
from rnnkit.estimators.seq2seq import Seq2Seq
from rnnkit.tasks.classifier_inference import load_classifier
from rnnkit.tasks.lm_inference import checkpoint_dir, load_language_model
from rnnkit.tasks.translation_inference import load_translator
from rnnkit.train.checkpoint import read_config

__all__ = ["LanguageModel", "Seq2Seq", "TextClassifier", "load"]


def load(path: str | Path, device: str = "cpu") -> TextClassifier | LanguageModel | Seq2Seq:
    """A saved model: ``save()``'s directory, a run directory (its best/) or a checkpoint.

    Returns a fitted TextClassifier, LanguageModel or Seq2Seq, with the arguments it was
    trained with.
    """
    task = read_config(checkpoint_dir(path)).get("task")
    if task == "classify":
        return TextClassifier.from_fitted(load_classifier(path, device))
    if task == "lm":
        return LanguageModel.from_fitted(load_language_model(path, device))
    if task == "seq2seq":
        return Seq2Seq.from_fitted(load_translator(path, device))
    raise CheckpointError(
        f"{path}: config.json names the task {task!r}; expected 'classify', 'lm' or 'seq2seq'"
    )
