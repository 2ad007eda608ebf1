"""Text classification as a training task: labelled files -> ids -> length buckets -> Trainer.

Dimensions: N texts, B batch, T padded length (<= max_len), C classes, K model outputs.

``train_classifier`` reads the training file (and a validation file, or holds out a stratified
``val_fraction``; and a test file, checked before training starts), builds a word vectorizer on
the training texts, truncates each text to ``max_len`` tokens, optionally initialises the
embedding from word vectors (the bundled GloVe by default; their coverage is logged) or the
embedding and recurrent stack from a word-level language model (``encoder_from``, see
rnnkit.tasks.transfer), and trains with the shared Trainer. Batches group texts of similar length (BucketBatcher, reshuffled each epoch from the
seed); the padding fraction is printed each epoch. The best checkpoint is the one with the
highest ``val_accuracy`` (the figure a classifier is judged by; ``val_loss`` and
``val_macro_f1`` are logged beside it). At the end the best checkpoint is scored on the test
file: the table is printed and ``test_metrics.json`` written in the run directory.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.config import check_types, defaults, from_dict
from rnnkit.data.batching import BucketBatcher, collate, padding_fraction
from rnnkit.data.readers import (
    FORMATS,
    LabelledTexts,
    LabelMap,
    check_labelled_path,
    label_names_from,
    read_labelled,
    train_val_split,
)
from rnnkit.data.vectors import BUNDLED_NAME
from rnnkit.errors import DataError, invalid
from rnnkit.models.classifier import ClassifierConfig, TextClassifier
from rnnkit.tasks.lm_inference import LoadedLanguageModel
from rnnkit.tasks.pretrained import add_vector_words, embedding_source, initial_embedding
from rnnkit.tasks.transfer import encoder_config, load_encoder, transfer_weights
from rnnkit.text import STANDARDIZERS, TextVectorizer, WordTokenizer, padding
from rnnkit.train import distributed
from rnnkit.train.callbacks import Callback
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.metrics import ClassificationReport, classification_report
from rnnkit.train.run_dir import check_run_dir
from rnnkit.train.trainer import Progress, Trainer, TrainerConfig, seed_everything
from rnnkit.validation import MAX_BATCH, check_choice, check_float, check_input_file, check_int

logger = logging.getLogger("rnnkit.tasks")
EVAL_BATCH_SIZE = 256  # texts scored at once (sorted by length: little padding)
MAX_VOCAB = 10**8  # vocabulary cap
MAX_LEN = 10**6  # tokens kept per text
CLASS_WEIGHTS = ("none", "balanced")


@dataclass
class ClassifyDataConfig:
    """Where the labelled texts come from and how they become batches ("data" in config.json)."""

    train: str = ""  # labelled training file or folder (csv, tsv, jsonl, folder per class)
    val: str | None = None  # validation file; None holds out val_fraction of train
    test: str | None = None  # test file, scored with the best checkpoint after training
    format: str | None = None  # csv | tsv | jsonl | folder; None infers it from the name
    text_cols: list[str | int] | None = None  # text columns (names or 0-based indices), joined
    label_col: str | int | None = None  # label column; None: "label" with a header, else column 0
    header: bool = True  # whether the first CSV/TSV row names the columns
    classes: str | None = None  # file of class names, one per line (labels: names or 1..C)
    skip_bad_rows: bool = False  # count and skip rows without text or label instead of failing
    standardize: str = "glove"  # text clean-up before splitting on spaces (glove: GloVe's tokens)
    vocab_size: int = 20_000  # cap on the words learned from the training texts, <pad> and <unk> included (vector_words come on top)
    max_len: int = 800  # tokens kept per text (longer texts are truncated)
    truncate: str = "post"  # post keeps a text's first max_len tokens, pre its last, middle its first quarter and last three quarters
    batch_size: int = 64  # B: texts per training batch
    val_fraction: float = 0.1  # held out of train (stratified, seeded) when val is None
    class_weights: str = "none"  # none | balanced (weight n / (C * n_c) on class c's loss)
    embeddings: str | None = "default"  # word vectors: default (bundled GloVe), none, or a PATH
    vector_words: int = 50_000  # the vectors' most frequent words added to the vocabulary, so that words unseen in training keep their vectors; 0: none
    encoder_from: str | None = None  # a word-level LM run (rnnkit train lm) to start the embedding and RNN from

    def __post_init__(self) -> None:
        check_types(self)
        check_choice("standardize", self.standardize, (*STANDARDIZERS, "none"))
        check_int("vocab_size", self.vocab_size, 3, MAX_VOCAB)  # <pad>, <unk> and a word
        check_int("max_len", self.max_len, 1, MAX_LEN)
        check_int("vector_words", self.vector_words, 0, MAX_VOCAB)
        check_int("batch_size", self.batch_size, 1, MAX_BATCH)
        check_choice("truncate", self.truncate, padding.TRUNCATE_SIDES)
        check_float("val_fraction", self.val_fraction, 0, 1, lo_open=True, hi_open=True)
        check_choice("class_weights", self.class_weights, CLASS_WEIGHTS)
        if self.format is not None:
            check_choice("format", self.format, FORMATS)
        label = self.label_col if self.label_col is not None else ("label" if self.header else "0")
        texts = self.text_cols if self.text_cols is not None else (["text"] if self.header else [])
        if str(label) in [str(c) for c in texts]:
            raise invalid("text_cols", texts, f"columns other than the label column {label!r}")

    def read(self, path: str) -> LabelledTexts:
        """Read one labelled file with these column options. The rows skipped are counted in
        the result, and reported by :func:`log_read_notes` once the data is known good."""
        return read_labelled(
            path, self.format, self.text_cols, self.label_col, self.header, self.skip_bad_rows
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ClassifierTrainerConfig(TrainerConfig):
    """TrainerConfig with a classifier's defaults ("trainer" in config.json; CLI and API use it)."""

    lr: float = 3e-3  # peak learning rate
    warmup_steps: int = 100  # linear warm-up from lr / warmup_steps, at most one epoch long
    schedule: str = "plateau"  # cosine | constant | plateau (halved at each validation without improvement)
    # The default budget: until val_accuracy stops improving for `patience` epochs, at most
    # 30 epochs and 14 minutes. Naming any of epochs / steps / minutes replaces both caps.
    epochs: int | None = 30  # budget: passes over the training data (default: at most 30)
    minutes: float | None = 14.0  # budget: wall-clock minutes (default: at most 14)
    patience: int = 3  # stop after this many validations without improvement; 0 = never
    min_steps: int = 300  # patience may stop training only after this many optimizer steps
    restore_best: bool = True  # end with best/'s weights (best val_accuracy) in the model
    ema_epochs: float = 0.5  # validate and save an exponential moving average of the weights with this time constant in epochs (momentum 1 - 1 / (ema_epochs * batches per epoch)); 0 = the weights as trained


def log_read_notes(*datasets: LabelledTexts | None) -> None:
    """Warn of the rows ``skip_bad_rows`` skipped, and say which columns were found by their
    header names (``LabelledTexts.inferred``). Called once nothing more can fail on the data,
    so that a command that fails prints its error line alone."""
    for data in datasets:
        if data is not None and data.inferred:
            logger.info(f"{data.source}: {data.inferred} (found by the header's names)")
        if data is not None and data.skipped:
            logger.warning(
                f"{data.source}: skipped {data.skipped:,} bad rows, e.g. {data.skipped_examples[0]}"
            )


def build_vectorizer(texts: Sequence[str], data: ClassifyDataConfig) -> TextVectorizer:
    """A word vectorizer adapted on the training texts (the vocabulary_size most frequent)."""
    standardize = None if data.standardize == "none" else data.standardize
    return TextVectorizer(WordTokenizer(standardize), max_tokens=data.vocab_size).adapt(texts)


def encode_texts(
    vectorizer: TextVectorizer, texts: Sequence[str], max_len: int, truncate: str = "post"
) -> list[list[int]]:
    """Ids of each text, cut to ``max_len`` on the side ``truncate`` (see ``padding.truncate``)."""
    return padding.truncate([vectorizer.encode(text) for text in texts], max_len, truncate)


def encode_labels(labels: LabelMap, data: LabelledTexts) -> Tensor:
    """(N,) class ids; a label not seen in training is a DataError naming file and row."""
    known = set(labels.values)
    bad = next((i for i, v in enumerate(data.labels) if v not in known), None)
    if bad is not None:
        raise DataError(
            f"{data.where(bad)}: label {data.labels[bad]!r} was not seen in training;"
            f" expected one of {labels.values}"
        )
    return torch.tensor(labels.encode(data.labels), dtype=torch.long)


def class_weight_tensor(targets: Tensor, num_classes: int, mode: str) -> Tensor | None:
    """None, or (C,) "balanced" weights n / (C * n_c) (1 for a class absent from training)."""
    if mode == "none":
        return None
    counts = torch.bincount(targets, minlength=num_classes).double()  # (C,)
    weights = targets.numel() / (num_classes * counts.clamp(min=1))
    return torch.where(counts > 0, weights, 1.0).float()


@torch.no_grad()
def logits_of(
    model: TextClassifier, ids: Sequence[Sequence[int]], batch_size: int = EVAL_BATCH_SIZE
) -> Tensor:
    """Logits (N, K) of N id lists in their given order, scored shortest first in batches."""
    device = next(model.parameters()).device
    lengths = [max(1, len(row)) for row in ids]
    out = torch.empty(len(ids), model.config.num_outputs)
    for index in BucketBatcher(lengths, batch_size, shuffle=False):
        tokens, lens = collate([ids[i] for i in index])  # (B, T), (B,)
        out[index] = model(tokens.to(device), lens).float().cpu()
    return out


def score(
    model: TextClassifier, ids: Sequence[Sequence[int]], targets: Tensor, label_names: list[str],
    class_weights: Tensor | None = None,
) -> tuple[float, ClassificationReport]:  # fmt: skip
    """Mean loss and the classification report of the model on (ids, targets (N,))."""
    return score_logits(model, logits_of(model, ids), targets, label_names, class_weights)


def score_logits(
    model: TextClassifier, logits: Tensor, targets: Tensor, label_names: list[str],
    class_weights: Tensor | None = None,
) -> tuple[float, ClassificationReport]:  # fmt: skip
    """Mean loss and the classification report of logits (N, K) against targets (N,)."""
    loss = model.loss(logits, targets, class_weights).item()
    predicted = model.probabilities(logits).argmax(-1)  # (N,)
    return loss, classification_report(targets, predicted, label_names)


class ClassificationTask:
    """The trainer's view of a labelled set: length-bucketed batches and validation scores."""

    name = "classify"
    metric = "val_accuracy"
    maximize = True
    unit = "ex"

    def __init__(
        self,
        train: tuple[list[list[int]], Tensor],
        val: tuple[list[list[int]], Tensor],
        vectorizer: TextVectorizer,
        labels: LabelMap,
        data: ClassifyDataConfig,
        seed: int = 0,
        unfreeze: Callable[[int], int | None] | None = None,
    ) -> None:
        """``unfreeze(epoch)`` is called as each epoch starts (the model's gradual unfreezing,
        see TextClassifier.unfreeze); it returns how many layer groups train, or None."""
        self.unfreeze = unfreeze
        (self.train_ids, self.train_y), (self.val_ids, self.val_y) = train, val
        self.vectorizer, self.labels, self.data = vectorizer, labels, data
        self.lengths = [max(1, len(row)) for row in self.train_ids]  # collate pads empty to 1
        self.batcher = BucketBatcher(self.lengths, data.batch_size, shuffle=True, seed=seed)
        self.class_weights = class_weight_tensor(self.train_y, len(labels), data.class_weights)
        unbucketed = BucketBatcher(
            self.lengths, data.batch_size, seed=seed, bucket_size_multiplier=1
        )
        self.unbucketed_padding = padding_fraction(self.lengths, list(unbucketed))

    def batches_per_epoch(self) -> int:
        return len(self.batcher)

    def train_batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """(tokens (B, T), lengths (B,), targets (B,)) of epoch ``epoch`` from batch ``start``."""
        self.batcher.set_epoch(epoch)
        batches = list(self.batcher)
        training = self.unfreeze(epoch) if self.unfreeze is not None else None
        if training is not None:
            logger.info(f"epoch {epoch}: gradual unfreezing trains the top {training} layer group(s)")
        logger.info(
            f"epoch {epoch}: {len(batches):,} batches of {self.data.batch_size}, padding "
            f"{padding_fraction(self.lengths, batches):.1%} of the (B, T) slots "
            f"({self.unbucketed_padding:.1%} without length buckets)"
        )
        for batch in batches[start:]:
            index = distributed.shard(batch)  # this process's share of the global batch
            if index is None:  # fewer texts than torchrun processes: every rank skips it
                continue
            tokens, lengths = collate([self.train_ids[i] for i in index])
            yield tokens, lengths, self.train_y[index]

    def train_step(
        self, model: TextClassifier, batch: tuple[Tensor, Tensor, Tensor]
    ) -> tuple[Tensor, int]:
        """Mean (class-weighted) cross-entropy of one batch, and its number of texts."""
        tokens, lengths, targets = batch
        device = next(model.parameters()).device
        logits = model(tokens.to(device, non_blocking=True), lengths)  # (B, K)
        weights = None if self.class_weights is None else self.class_weights.to(device)
        return model.loss(logits, targets.to(device), weights), targets.numel()

    def evaluate(self, model: TextClassifier) -> dict[str, float]:
        """Validation loss, accuracy, macro-F1; under torchrun each rank scores a share."""
        share = distributed.shard(self.val_ids)
        logits = (
            logits_of(model, self.val_ids)
            if share is None
            else distributed.gather_rows(logits_of(model, share))  # (N, K) in order, all ranks
        )
        loss, report = score_logits(
            model, logits, self.val_y, self.labels.names, self.class_weights
        )
        return {"val_loss": loss, "val_accuracy": report.accuracy, "val_macro_f1": report.macro_f1}

    def state_dict(self) -> dict[str, Any]:
        return {}  # the batch order follows from (seed, epoch): nothing else to carry

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def vocab(self) -> dict[str, Any]:
        return self.vectorizer.to_dict()

    def run_sections(self) -> dict[str, Any]:
        return {
            "vectorizer": {"max_len": self.data.max_len, "truncate": self.data.truncate},
            "labels": self.labels.to_dict(),
            "data": self.data.to_dict(),
        }


def train_classifier(
    out: str | Path,
    data: ClassifyDataConfig,
    model: ClassifierConfig | dict[str, Any] | None = None,
    trainer: TrainerConfig | None = None,
    resume: bool = False,
    **fit_options: Any,
) -> tuple[Progress, ClassificationReport | None]:
    """Train a text classifier on the files of ``data`` into the run directory ``out``.

    Reads ``data.train`` (and ``data.val``, or holds out a stratified ``data.val_fraction``;
    and ``data.test``, read before training starts), then runs :func:`fit_classifier`
    (``fit_options``: its ``callbacks`` and ``verbose``).
    """
    if not isinstance(model, ClassifierConfig):
        model = from_dict(ClassifierConfig, model or {}, "model")  # checked before the data
    check_run_dir(out, "classify", resume)
    if data.classes is not None:
        check_input_file("classes", data.classes, "a classes file")
    if data.embeddings not in (None, "none", BUNDLED_NAME):
        check_input_file("embeddings", data.embeddings, "a word-vectors file, default or none")
    encoder = None if data.encoder_from is None else load_encoder(data.encoder_from, data.standardize)
    for name in ("train", "val", "test"):
        if name == "train" or getattr(data, name) is not None:
            check_labelled_path(name, getattr(data, name), data.format)
    trainer = trainer or ClassifierTrainerConfig()
    seed_everything(trainer.seed)
    train = data.read(data.train)
    test = data.read(data.test) if data.test else None
    val = data.read(data.val) if data.val else None
    return fit_classifier(
        out, train, val, test, data, model, trainer, resume, encoder=encoder, **fit_options
    )


def fit_classifier(
    out: str | Path,
    train: LabelledTexts,
    val: LabelledTexts | None,
    test: LabelledTexts | None,
    data: ClassifyDataConfig,
    model: ClassifierConfig | dict[str, Any] | None = None,
    trainer: TrainerConfig | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    verbose: int | None = None,
    labels: LabelMap | None = None,
    run_extra: dict[str, Any] | None = None,
    encoder: LoadedLanguageModel | None = None,
) -> tuple[Progress, ClassificationReport | None]:
    """Train a text classifier on labelled texts in memory into the run directory ``out``.

    ``val`` None holds out a stratified ``data.val_fraction`` of ``train``. ``model`` gives
    the ClassifierConfig options (a dict is checked for unknown keys); ``vocab_size`` and
    ``num_classes`` come from the data, ``embedding_size`` from ``data.embeddings`` when given.
    ``labels`` fixes the classes (default: the sorted distinct training labels); ``run_extra``
    adds sections to config.json; ``encoder`` is the language model of ``data.encoder_from``
    when the caller has loaded it already (rnnkit.tasks.transfer). Returns the final progress and the best checkpoint's report
    on ``test`` (None without one). The same seed on the same machine gives the same weights.
    """
    trainer = trainer or ClassifierTrainerConfig()
    if not isinstance(model, ClassifierConfig):
        model = from_dict(ClassifierConfig, model or {}, "model")
    if data.encoder_from is not None:
        encoder = encoder or load_encoder(data.encoder_from, data.standardize)
        model = encoder_config(model, encoder, data.encoder_from)
        if model.gradual_unfreezing and distributed.launched():
            raise invalid("gradual_unfreezing", True, "False under torchrun (DDP cannot change "
                          "which parameters train)")  # fmt: skip
    seed_everything(trainer.seed)
    read_sets = (train, val, test)  # their skipped rows are logged once the data is known good
    if val is None:
        train, val = train_val_split(train, data.val_fraction, seed=trainer.seed)
    labels = labels or label_names_from(train.labels, data.classes)
    if len(labels) < 2:
        raise DataError(f"{train.source}: one label ({labels.values[0]!r}); expected at least two")
    val_y = encode_labels(labels, val)
    test_y = None if test is None else encode_labels(labels, test)  # fails before training
    vectorizer = build_vectorizer(train.texts, data)
    size, default_size = model.embedding_size, defaults(ClassifierConfig)["embedding_size"]
    fixed = data.encoder_from is not None  # the LM's embedding: its vocabulary, its size
    source = embedding_source(data.embeddings, size, default_size, fixed)
    # before encoding: a training word past the vocabulary cap that has a vector gets its row
    added = 0 if source is None or fixed else add_vector_words(source, vectorizer, data.vector_words)
    full = [vectorizer.encode(text) for text in train.texts]
    # read before anything is reported: a bad vectors file is the one message
    matrix, size = initial_embedding(source, vectorizer, size, default_size, trainer.seed, full,
                                     added, fixed)  # fmt: skip
    cut = sum(len(row) > data.max_len for row in full) / len(full)
    log_read_notes(*read_sets)
    logger.info(
        f"data: {len(train):,} training, {len(val):,} validation"
        + (f", {len(test):,} test" if test is not None else "")
        + f" texts; {len(labels)} classes ({', '.join(labels.names)}); vocabulary"
        f" {vectorizer.vocab_size:,}; max_len {data.max_len} cuts {cut:.1%} of training texts"
    )
    config = replace(
        model, vocab_size=vectorizer.vocab_size, num_classes=len(labels), embedding_size=size
    )
    network = TextClassifier(config, matrix)
    if data.encoder_from is not None and encoder is not None:
        transfer_weights(network, encoder, vectorizer, full)
    val_ids = encode_texts(vectorizer, val.texts, data.max_len, data.truncate)
    train_ids = padding.truncate(full, data.max_len, data.truncate)
    task = ClassificationTask((train_ids, encode_labels(labels, train)), (val_ids, val_y),
                              vectorizer, labels, data, trainer.seed, network.unfreeze)  # fmt: skip
    progress = Trainer(network, task, trainer, out, run_extra, callbacks, verbose).fit(resume)
    if test is None or test_y is None:
        return progress, None
    if not trainer.restore_best:  # else fit ended with best/'s weights in the network
        network.load_state_dict(load_checkpoint(Path(out) / "best").state_dict)
    network.eval()
    test_ids = encode_texts(vectorizer, test.texts, data.max_len, data.truncate)
    loss, report = score(network, test_ids, test_y, labels.names)
    (Path(out) / "test_metrics.json").write_text(
        json.dumps({"source": test.source, "loss": loss, **report.to_dict()}, indent=2) + "\n"
    )
    logger.info(
        f"test ({test.source}, best checkpoint): accuracy {report.accuracy:.4f}, macro-F1 "
        f"{report.macro_f1:.4f}; details in {Path(out) / 'test_metrics.json'}"
    )
    return progress, report
