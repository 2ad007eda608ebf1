"""The user-facing models: :class:`TextClassifier`, :class:`LanguageModel`, :class:`Seq2Seq`
and :func:`load`.

Their arguments are the fields of the config dataclasses (rnnkit.models, rnnkit.tasks), with
the same defaults; training goes through the same functions as the ``rnnkit`` command line.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.errors import CheckpointError, InvalidArgumentError
from rnnkit.estimators.classifier import TextClassifier
from rnnkit.estimators.language_model import LanguageModel
from rnnkit.estimators.seq2seq import Seq2Seq
from rnnkit.tasks.classifier_inference import LoadedClassifier
from rnnkit.tasks.lm_inference import LoadedLanguageModel, checkpoint_dir
from rnnkit.tasks.loading import load_run
from rnnkit.validation import check_path_type

__all__ = ["LanguageModel", "Seq2Seq", "TextClassifier", "load"]


def load(
    path: str | Path, device: str = "cpu", expect_sha256: str | None = None
) -> TextClassifier | LanguageModel | Seq2Seq:
    """A saved model: ``save()``'s directory, a run directory (its best/) or a checkpoint.

    Returns a fitted TextClassifier, LanguageModel or Seq2Seq, with the arguments it was
    trained with. ``expect_sha256`` pins the checkpoint: its manifest must have this SHA-256
    (see docs/reliability.md). A ``path`` that is not a str or os.PathLike is an
    ArgumentTypeError; a config.json whose settings the estimator refuses (edited by hand, a
    data option out of range) is a CheckpointError naming the file.
    """
    check_path_type("path", path, "a saved model, run or checkpoint directory")
    loaded = load_run(path, device, expect_sha256)
    estimator = (
        TextClassifier if isinstance(loaded, LoadedClassifier)
        else LanguageModel if isinstance(loaded, LoadedLanguageModel)
        else Seq2Seq
    )  # fmt: skip
    try:
        return estimator.from_fitted(loaded)
    except InvalidArgumentError as exc:  # e.g. data.standardize='x': the file is at fault
        config = checkpoint_dir(path) / "config.json"
        raise CheckpointError(
            f"{config}: {exc}; expected the settings rnnkit train writes"
        ) from None
