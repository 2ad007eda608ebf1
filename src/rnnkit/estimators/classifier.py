"""``rnnkit.TextClassifier``: an RNN text classifier with scikit-learn's estimator interface.

::

    clf = rnnkit.TextClassifier(cell="gru", bidirectional=True)
    clf.fit(texts, labels, validation_data=(val_texts, val_labels), epochs=5)
    clf.predict(["a fine film", "dull"])       # labels, in the values fit was given
    clf.predict_proba(texts)                   # (N, C), columns = clf.classes_
    clf.evaluate(test_texts, test_labels)      # {"accuracy", "macro_f1", "loss", "per_class", ...}
    clf.save("runs/reviews"); clf = rnnkit.load("runs/reviews")

Training is :func:`rnnkit.tasks.classification.fit_classifier`, the same call as
``rnnkit train classify``: same arguments and seed, same weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor

from rnnkit.data.readers import LabelledTexts, LabelMap
from rnnkit.errors import ArgumentTypeError, invalid
from rnnkit.estimators.fitting import check_callbacks, history, run_directory
from rnnkit.estimators.inputs import as_labels, as_texts, split_table
from rnnkit.estimators.params import Estimator
from rnnkit.logs import verbosity
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks.classification import (
    ClassifierTrainerConfig,
    ClassifyDataConfig,
    encode_labels,
    fit_classifier,
    score,
)
from rnnkit.tasks.classifier_inference import LoadedClassifier, load_classifier
from rnnkit.train.callbacks import Callback

FILE_OPTIONS = ("train", "val", "test", "format", "text_cols", "label_col", "header", "classes",
                "skip_bad_rows")  # fmt: skip


class TextClassifier(Estimator):
    """An RNN text classifier: texts in, labels out (scikit-learn conventions).

    ``fit(X, y)`` takes texts as a list of str, a numpy array, a pandas Series, a table (pandas
    DataFrame or Hugging Face Dataset: its "text" column, labels from the column named by
    ``y``, default "label") or a labelled file path (csv, tsv, jsonl, folder; ``y`` None).
    Labels may be str or int; ``predict`` answers in the same values, ``classes_`` lists them
    sorted. After ``fit`` the model holds the weights of its best validation accuracy (the
    checkpoint ``rnnkit predict`` would use). ``get_params``/``set_params``, ``score`` and
    ``classes_`` follow scikit-learn, so ``sklearn.base.clone``, ``cross_val_score`` and
    ``Pipeline`` work.
    """

    SECTIONS: ClassVar[dict[str, type]] = {"model": ClassifierConfig, "data": ClassifyDataConfig,
                "trainer": ClassifierTrainerConfig}  # fmt: skip
    HIDDEN: ClassVar[dict[str, Sequence[str]]] = {"model": ("vocab_size", "num_classes"), "data": FILE_OPTIONS,
              "trainer": ("progress",)}  # fmt: skip
    fitted_: LoadedClassifier | None = None
    classes_: np.ndarray

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        validation_data: tuple[Any, Any] | None = None,
        epochs: int | None = None,
        steps: int | None = None,
        minutes: float | None = None,
        callbacks: Sequence[Callback] = (),
        verbose: int = 1,
        out: str | Path | None = None,
    ) -> TextClassifier:
        """Train on texts ``X`` with labels ``y``; returns self.

        validation_data: (texts, labels); None holds out ``val_fraction`` of X (stratified).
        epochs / steps / minutes: the budget, replacing the constructor's (default: until
            val_accuracy stops improving for ``patience`` epochs, at most 30 epochs and 14
            minutes); ``fit(epochs=5)`` means 5 epochs, no minutes cap, while the
            constructor's ``epochs=5`` only lowers the epoch cap (the 14 minutes stay).
        callbacks: rnnkit.callbacks objects (EarlyStopping, CSVLogger, TensorBoard, your own).
        verbose: 0 silent, 1 progress bar on a terminal, 2 one line every log_every steps.
        out: keep the run directory there (config.json, metrics.jsonl, best/, last/);
            None trains in a temporary directory.
        """
        configs = self.configs({"epochs": epochs, "steps": steps, "minutes": minutes},
                               progress=verbose == 1)  # fmt: skip
        callbacks = check_callbacks(callbacks)
        data = configs["data"]
        train, labels = self._labelled(X, y, data, "X")
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise invalid("validation_data", validation_data, "a pair (texts, labels)")
            val, _ = self._labelled(*validation_data, data, "validation_data")
        classes = np.unique(labels)
        names = [str(c) for c in classes]
        with verbosity(verbose), run_directory(out) as run:
            fit_classifier(
                run, train, val, None, data, configs["model"], configs["trainer"],
                callbacks=callbacks, verbose=verbose, labels=LabelMap(names, names),
                run_extra={"label_values": classes.tolist()},
            )  # fmt: skip
            self._set_fitted(load_classifier(run, configs["trainer"].device))
            self.history_ = history(run)
        return self

    @staticmethod
    def _labelled(
        X: Any, y: Any, data: ClassifyDataConfig, name: str
    ) -> tuple[LabelledTexts, np.ndarray]:
        """Texts and labels from arrays, a table or a labelled file."""
        if isinstance(X, (str, Path)) and y is None:
            read = data.read(str(X))
            return read, np.asarray(read.labels)
        X, y = split_table(X, y, name)
        texts = as_texts(X, name)
        labels = as_labels(y, len(texts), "y")
        return LabelledTexts(texts, [str(v) for v in labels.tolist()], source=name), labels

    def _set_fitted(self, fitted: LoadedClassifier) -> None:
        self.fitted_ = fitted
        self.classes_ = np.asarray(fitted.config.get("label_values", fitted.labels.names))

    # ---- prediction ----
    def predict_proba(self, X: Any) -> np.ndarray:
        """(N, C) class probabilities of N texts; column j is ``classes_[j]``."""
        return self._fitted().probabilities(as_texts(X, "X")).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """(N,) the most probable label of each text, in the label values fit was given."""
        best = self.predict_proba(X).argmax(axis=1)  # (N,)
        return self.classes_[best]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy of ``predict(X)`` against ``y`` (scikit-learn's classifier score), weighted
        by ``sample_weight`` (N,) when given.

        A label of ``y`` that fit never saw is a DataError, as in ``evaluate`` and ``rnnkit
        evaluate``.
        """
        texts, targets = self._targets(X, y)
        weights = _sample_weights(sample_weight, len(texts))
        correct = self.predict_proba(texts).argmax(axis=1) == targets.numpy()
        return float(np.average(correct, weights=weights))

    def evaluate(self, X: Any, y: Any) -> dict[str, Any]:
        """Loss, accuracy, macro_f1, per_class precision/recall/F1/support and the confusion."""
        fitted = self._fitted()
        texts, targets = self._targets(X, y)
        loss, report = score(fitted.model, fitted.encode(texts), targets, fitted.labels.names)
        return {"loss": loss, **report.to_dict()}

    def _targets(self, X: Any, y: Any) -> tuple[list[str], Tensor]:
        """Texts ``X`` and (N,) class ids of labels ``y`` (column j of predict_proba is id j);
        a label fit never saw is a DataError naming its row."""
        fitted = self._fitted()
        texts = as_texts(X, "X")
        values = as_labels(y, len(texts), "y")
        if len(values) and (values.dtype.kind == "U") != (self.classes_.dtype.kind == "U"):
            kind = "a str" if self.classes_.dtype.kind == "U" else "an int"
            raise invalid("y[0]", values[0].item(), f"{kind} label, as fit was given")
        labels = [str(v) for v in values.tolist()]
        classes = LabelMap(fitted.labels.names, [str(c) for c in self.classes_.tolist()])
        return texts, encode_labels(classes, LabelledTexts(texts, labels, source="y"))

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags: a classifier of 1-D string input (used by cross_val_score)."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier", target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(),
            input_tags=InputTags(one_d_array=True, two_d_array=False, string=True),
        )  # fmt: skip


def _sample_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """scikit-learn's ``sample_weight``: None, or N finite non-negative numbers, not all 0."""
    if sample_weight is None:
        return None
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid("sample_weight", sample_weight, f"{n} numbers", ArgumentTypeError) from None
    if weights.shape != (n,):
        raise invalid("sample_weight", f"shape {weights.shape}", f"({n},): one weight per text")
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise invalid("sample_weight", sample_weight, "finite weights >= 0, not all 0")
    return weights
