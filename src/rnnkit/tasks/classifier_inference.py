"""A trained classifier as texts in, labels out: loading, prediction, evaluation on a file.

::

    clf = load_classifier("runs/imdb")                  # best/ checkpoint of a run
    clf.predict(["a wonderful film", "dull and far too long"])
    # [("pos", {"neg": 0.03, "pos": 0.97}), ("neg", {"neg": 0.91, "pos": 0.09})]
    report = clf.evaluate(read_labelled("test.csv"))     # ClassificationReport
    print(report.format_table())

Texts are encoded exactly as in training (the saved vectorizer, the run's ``max_len`` and
truncation side) and scored in length-sorted batches, so a text's prediction does not depend
on which other texts it is predicted with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import Tensor

from rnnkit.data.readers import LabelledTexts, LabelMap, check_labelled_path, label_names_from
from rnnkit.errors import DataError, invalid
from rnnkit.models.classifier import ClassifierConfig, TextClassifier
from rnnkit.tasks.classification import (
    ClassifyDataConfig,
    encode_labels,
    encode_texts,
    log_read_notes,
    logits_of,
    score,
)
from rnnkit.tasks.lm_inference import checkpoint_vectorizer, load_task_model
from rnnkit.text import TextVectorizer
from rnnkit.text.padding import TRUNCATE_SIDES
from rnnkit.train.checkpoint import checkpoint_content
from rnnkit.train.metrics import ClassificationReport
from rnnkit.validation import check_choice, check_int


@dataclass
class LoadedClassifier:
    """A classifier with its vectorizer, label names and run config, ready to predict."""

    model: TextClassifier
    vectorizer: TextVectorizer
    labels: LabelMap
    config: dict[str, Any]

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Id lists of ``texts`` as in training (cut to the run's max_len)."""
        if isinstance(texts, str):
            raise invalid("texts", texts, "a list of strings; wrap a single text as [text]")
        settings = self.config["vectorizer"]
        return encode_texts(self.vectorizer, texts, settings["max_len"], settings["truncate"])

    def probabilities(self, texts: Sequence[str]) -> Tensor:
        """Class probabilities (N, C) of N texts, columns in the order of ``labels.names``."""
        if len(texts) == 0:
            raise invalid("texts", list(texts), "at least one text")
        return self.model.probabilities(logits_of(self.model, self.encode(texts)))

    def predict(self, texts: Sequence[str]) -> list[tuple[str, dict[str, float]]]:
        """(label name, {label name: probability}) for each text, in order."""
        rows = self.probabilities(texts).tolist()
        names = self.labels.names
        return [
            (names[max(range(len(row)), key=row.__getitem__)], dict(zip(names, row, strict=True)))
            for row in rows
        ]

    def evaluate(self, labelled: LabelledTexts) -> ClassificationReport:
        """Accuracy, macro-F1, per-class scores and confusion matrix on labelled texts.

        Raises DataError when a label of ``labelled`` was never seen in training.
        """
        targets = encode_labels(self.labels, labelled)
        _, report = score(self.model, self.encode(labelled.texts), targets, self.labels.names)
        return report


def _check_label_values(values: object, classes: int) -> None:
    """The Python API's label values (what ``predict`` answers): one per class, distinct,
    all str or all int (bools too), as JSON holds them. ValueError otherwise."""
    if not isinstance(values, list) or len(values) != classes:
        raise ValueError(f"label_values={values!r}, expected a list of {classes} labels")
    kinds = {str if isinstance(v, str) else int if isinstance(v, int) else None for v in values}
    if None in kinds or len(kinds) != 1 or len(set(values)) != classes:
        raise ValueError(f"label_values={values!r}, expected {classes} distinct str or int labels")


def load_classifier(
    path: str | Path, device: str = "cpu", expect_sha256: str | None = None
) -> LoadedClassifier:
    """Load a classifier from a run directory (its best/) or a checkpoint directory.

    ``expect_sha256`` pins the checkpoint's manifest (see ``rnnkit.train.checkpoint``).
    """
    ckpt, model = load_task_model(
        path, ("classify", "a classifier"), (ClassifierConfig, TextClassifier),
        ("vectorizer", "labels"), device, expect_sha256,
    )  # fmt: skip
    vectorizer = checkpoint_vectorizer(ckpt, ckpt.vocab, model.config.vocab_size)
    with checkpoint_content(ckpt.path):
        labels = LabelMap.from_dict(ckpt.config["labels"])
        settings = ckpt.config["vectorizer"]
        check_int("vectorizer.max_len", settings["max_len"], 1)
        check_choice("vectorizer.truncate", settings["truncate"], TRUNCATE_SIDES)
        if len(labels) != model.config.num_classes:
            raise ValueError(f"{len(labels)} labels, a model of {model.config.num_classes} classes")
        if "label_values" in ckpt.config:
            _check_label_values(ckpt.config["label_values"], len(labels))
    return LoadedClassifier(model, vectorizer, labels, ckpt.config)


def evaluate_file(
    run_dir: str | Path,
    path: str | Path,
    format: str | None = None,
    text_cols: Sequence[str] | None = None,
    label_col: str | None = None,
    header: bool | None = None,
    device: str = "cpu",
    classes: str | Path | None = None,
    expect_sha256: str | None = None,
) -> ClassificationReport:
    """Score the classifier of ``run_dir`` on the labelled file ``path``.

    Column options left at None are those the model was trained with (``format`` None infers
    it from the file name when training did too). ``classes``, a class-names file, must list
    the model's class names when given.
    """
    clf = load_classifier(run_dir, device, expect_sha256)
    if classes is not None:
        names = label_names_from([], classes).names
        if names != clf.labels.names:
            raise DataError(f"{classes}: classes {names}; expected the model's {clf.labels.names}")
    given = {"format": format, "text_cols": text_cols, "label_col": label_col, "header": header}
    trained = ClassifyDataConfig(**clf.config["data"])
    columns = replace(trained, **{k: v for k, v in given.items() if v is not None})
    check_labelled_path("data", path, columns.format)
    data = columns.read(str(path))
    report = clf.evaluate(data)
    log_read_notes(data)  # after the scores: a failed evaluation prints its error alone
    return report
