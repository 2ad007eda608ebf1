"""Language modelling as a training task: corpus -> ids -> streams -> truncated BPTT.

Dimensions: B streams (batch), T steps per window (seq_len), V vocabulary.

Character level: every character is a token (newlines included). Word level: each line is
split on whitespace and ends with ``<eos>``, as in Mikolov's Penn Treebank setup (a literal
``<unk>`` in the text is the unknown id), or, with ``tokenizer="glove"`` (what a classifier's
``encoder_from`` needs), split into GloVe's lower-cased tokens as the classifier does; the
embedding can then start from the bundled GloVe vectors (``embeddings="default"``). A
csv/tsv/jsonl corpus (``.gz`` too; e.g. a classifier's training file) is read as its
``text_cols`` column, one text per line of the stream (a text's own line breaks made spaces). The last ``val_fraction`` of the ids is held out
for validation; training reads the rest as B contiguous streams, carrying the detached hidden
state from one window to the next (see rnnkit.data.batching.LMStream).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.config import check_types, defaults, from_dict
from rnnkit.data.batching import LMStream, train_val_split_ids
from rnnkit.data.corpora import load_corpus
from rnnkit.data.readers import read_texts
from rnnkit.data.vectors import BUNDLED_NAME
from rnnkit.errors import DataError, InvalidArgumentError, invalid
from rnnkit.models.language_model import (
    LanguageModel,
    LanguageModelConfig,
    State,
    detach_state,
    move_state,
)
from rnnkit.tasks.pretrained import embedding_source, initial_embedding
from rnnkit.text import EOS, STANDARDIZERS, TextVectorizer, WordTokenizer
from rnnkit.train import distributed
from rnnkit.train.callbacks import Callback
from rnnkit.train.metrics import bits_per_char, perplexity
from rnnkit.train.run_dir import check_run_dir
from rnnkit.train.trainer import Progress, Trainer, TrainerConfig, seed_everything
from rnnkit.validation import MAX_BATCH, check_choice, check_float, check_input_file, check_int

logger = logging.getLogger(__name__)

LEVELS = ("char", "word")
TABLES = ("csv", "tsv", "jsonl")  # corpus formats read through rnnkit.data.readers
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")  # inferred as a table (after .gz)
TOKENIZERS = ("whitespace", *STANDARDIZERS)  # word level: split as is, or standardised first
EVAL_BATCH_SIZE = 32  # streams used to score held-out text
MAX_SEQ_LEN = 100_000  # BPTT steps per window; longer windows only exhaust memory


@dataclass
class LMDataConfig:
    """How the corpus becomes training windows (saved under "data" in config.json)."""

    corpus: str = "nietzsche"  # a bundled corpus (nietzsche, shakespeare) or a text file PATH
    val_corpus: str | None = None  # a separate validation text; None = the corpus's tail
    level: str = "char"  # char | word tokens
    lowercase: bool = False  # lower-case the corpus first (the Keras Nietzsche example does)
    max_tokens: int | None = None  # vocabulary cap incl. <pad>/<unk> (word level); None = all
    seq_len: int = 100  # T: steps of back-propagation through time per window
    batch_size: int = 64  # B: parallel streams
    val_fraction: float = 0.05  # held-out tail of the corpus (when no val_corpus)
    format: str | None = None  # csv | tsv | jsonl corpus (one text per row); None: from the suffix
    text_cols: list[str | int] | None = None  # csv/tsv/jsonl: text columns (names or indices), joined
    header: bool = True  # csv/tsv: the first row names the columns
    tokenizer: str = "whitespace"  # word level: whitespace, or glove (a classifier's encoder_from)
    embeddings: str | None = None  # word level: default (bundled GloVe), none, or a vectors PATH

    def __post_init__(self) -> None:
        check_types(self)
        check_choice("level", self.level, LEVELS)
        check_choice("tokenizer", self.tokenizer, TOKENIZERS)
        if self.format is not None:
            check_choice("format", self.format, TABLES)
        if self.level == "char":
            if self.tokenizer != "whitespace":
                raise invalid("tokenizer", self.tokenizer, "whitespace at char level (or level=word)")
            if self.embeddings not in (None, "none"):
                raise invalid("embeddings", self.embeddings, "none at char level (or level=word)")
        check_int("seq_len", self.seq_len, 1, MAX_SEQ_LEN)
        check_int("batch_size", self.batch_size, 1, MAX_BATCH)
        smallest = 4 if self.level == "word" else 3  # <pad>, <unk>, (<eos>,) and one token
        check_int("max_tokens", self.max_tokens, smallest, None, optional=True)
        check_float("val_fraction", self.val_fraction, 0, 0.5, lo_open=True, hi_open=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LMTrainerConfig(TrainerConfig):
    """TrainerConfig with a language model's defaults ("trainer" in config.json; CLI and API)."""

    lr: float = 4e-3  # peak learning rate
    eval_every: int = 200  # steps between validation + checkpoint; 0 = at each epoch's end
    minutes: float | None = 10.0  # budget: wall-clock minutes (default budget: 10 minutes)


def is_table(corpus: str, format: str | None) -> bool:
    """Whether ``corpus`` is read as a csv/tsv/jsonl file of texts (``format`` or its suffix)."""
    return format is not None or str(corpus).lower().removesuffix(".gz").endswith(TABLE_SUFFIXES)


def read_corpus(corpus: str, data: LMDataConfig, arg: str = "corpus") -> str:
    """The text of a bundled corpus or text file, or of a csv/tsv/jsonl file's texts: one
    text per line (a text's own line breaks become spaces)."""
    if not is_table(corpus, data.format):
        return load_corpus(corpus, arg)
    texts = read_texts(corpus, data.format, data.text_cols, data.header)
    return "\n".join(" ".join(text.splitlines()) for text in texts)


def build_vectorizer(text: str, data: LMDataConfig) -> TextVectorizer:
    """Adapt a char or word vectorizer on the corpus (word level adds the <eos> special)."""
    if data.level == "char":
        return TextVectorizer("char", max_tokens=data.max_tokens).adapt([text])
    tokenizer = "whitespace" if data.tokenizer == "whitespace" else WordTokenizer(data.tokenizer)
    vectorizer = TextVectorizer(tokenizer, max_tokens=data.max_tokens, specials=[EOS])
    return vectorizer.adapt(text.splitlines())


def encode_corpus(text: str, vectorizer: TextVectorizer) -> Tensor:
    """The corpus as one (N,) id tensor; word level appends <eos> after every line."""
    if vectorizer.tokenizer.kind == "char":
        return torch.tensor(vectorizer.encode(text), dtype=torch.long)
    eos = vectorizer.vocab.eos_id
    ids: list[int] = []
    for line in text.splitlines():
        ids.extend(vectorizer.encode(line))
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


def start_token(vectorizer: TextVectorizer) -> str:
    """The token generation starts from without a prompt: newline, <eos>, or the commonest."""
    vocab = vectorizer.vocab
    for token in ("\n", EOS):
        if token in vocab and vocab.token_to_id(token) != vocab.unk_id:
            return token
    return vocab.tokens[0]


@torch.no_grad()
def stream_loss(
    model: LanguageModel, ids: Tensor, seq_len: int, batch_size: int = EVAL_BATCH_SIZE
) -> float:
    """Mean next-token loss (nats) over (N,) ids read as streams with a carried state."""
    batch_size = max(1, min(batch_size, ids.numel() // 2))
    stream = LMStream(ids, batch_size, seq_len)
    device = next(model.parameters()).device
    total, count, state = 0.0, 0, None
    for x, y in stream:
        loss, state = model(x.to(device), state, targets=y.to(device))
        total += loss.item() * y.numel()
        count += y.numel()
    return total / count


def lm_metrics(nats: float, level: str, prefix: str = "val_") -> dict[str, float]:
    """Loss in nats per token, plus bits per character or perplexity."""
    extra = {"bpc": bits_per_char(nats)} if level == "char" else {"ppl": perplexity(nats)}
    return {f"{prefix}loss": nats} | {prefix + k: v for k, v in extra.items()}


class LanguageModelingTask:
    """The trainer's view of a corpus: windows to train on and a validation score."""

    name = "lm"
    metric = "val_loss"
    maximize = False
    unit = "tok"

    def __init__(
        self,
        ids: Tensor,
        vectorizer: TextVectorizer,
        data: LMDataConfig,
        val_ids: Tensor | None = None,
    ) -> None:
        self.vectorizer, self.data = vectorizer, data
        if val_ids is None:
            try:
                self.train_ids, self.val_ids = train_val_split_ids(ids, data.val_fraction)
            except InvalidArgumentError:  # under 4 tokens: reported below, naming the corpus
                self.train_ids, self.val_ids = ids, ids[:0]
        else:
            self.train_ids, self.val_ids = ids, val_ids
        if self.train_ids.numel() < 4 * data.batch_size or self.val_ids.numel() < 2:
            raise DataError(
                f"corpus {data.corpus!r}: {self.train_ids.numel()} training and "
                f"{self.val_ids.numel()} validation tokens; expected at least "
                f"{4 * data.batch_size} training tokens (4 per stream for batch_size="
                f"{data.batch_size}) and 2 validation tokens"
            )
        self.stream = LMStream(self.train_ids, data.batch_size, data.seq_len)
        self.state: State | None = None  # carried across windows, detached

    def batches_per_epoch(self) -> int:
        return len(self.stream)

    def train_batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Windows of one epoch from ``start``; a new epoch starts from a zero state."""
        if start == 0:
            self.state = None
        rows = distributed.row_slice(self.data.batch_size)  # this process's streams (torchrun)
        return ((x[rows], y[rows]) for x, y in self.stream.batches(start))

    def train_step(self, model: LanguageModel, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        """Mean cross-entropy of one (B, T) window; the state goes on to the next window."""
        device = next(model.parameters()).device
        x, y = (t.to(device, non_blocking=True) for t in batch)
        loss, state = model(x, move_state(self.state, device), targets=y)
        self.state = detach_state(state)
        return loss, y.numel()

    def evaluate(self, model: LanguageModel) -> dict[str, float]:
        """Validation loss; under torchrun each rank scores a contiguous share, token-weighted."""
        share = distributed.shard(self.val_ids, min_size=4)
        if share is None:
            nats = stream_loss(model, self.val_ids, self.data.seq_len)
        else:
            nats = stream_loss(model, share, self.data.seq_len)
            nats = distributed.weighted_mean(nats, share.numel())
        return lm_metrics(nats, self.data.level)

    def state_dict(self) -> dict[str, Any]:
        """The carried hidden state, so a resumed run continues each stream exactly."""
        if self.state is None:
            return {}
        parts = self.state if isinstance(self.state, tuple) else (self.state,)
        return {"hidden": [p.cpu() for p in parts]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        parts = state.get("hidden")
        rows = distributed.row_slice(self.data.batch_size)  # this process's B streams
        streams = rows.stop - rows.start
        for part in parts or []:  # (layers * directions, B, H) each
            if not isinstance(part, Tensor) or part.dim() != 3 or part.shape[1] != streams:
                shown = getattr(part, "shape", part)
                raise ValueError(f"carried state {shown!r}: expected (L, B={streams}, H)")
        if not parts:
            self.state = None
        else:
            self.state = (parts[0], parts[1]) if len(parts) == 2 else parts[0]

    def vocab(self) -> dict[str, Any]:
        return self.vectorizer.to_dict()

    def run_sections(self) -> dict[str, Any]:
        level, start = self.data.level, start_token(self.vectorizer)
        return {"vectorizer": {"level": level, "start_token": start}, "data": self.data.to_dict()}


def train_language_model(
    out: str | Path,
    data: LMDataConfig,
    model: LanguageModelConfig | dict[str, Any] | None = None,
    trainer: TrainerConfig | None = None,
    resume: bool = False,
    **fit_options: Any,
) -> Progress:
    """Train a language model on ``data.corpus`` (bundled name or file) into ``out``.

    Reads the corpus (and ``data.val_corpus``) and runs :func:`fit_language_model`
    (``fit_options``: its ``callbacks`` and ``verbose``).
    """
    if not isinstance(model, LanguageModelConfig):
        model = from_dict(LanguageModelConfig, model or {}, "model")  # checked before the data
    check_run_dir(out, "lm", resume)
    if data.embeddings not in (None, "none", BUNDLED_NAME):  # before the long corpus read
        check_input_file("embeddings", data.embeddings, "a word-vectors file, default or none")
    val_text = None if data.val_corpus is None else read_corpus(data.val_corpus, data, "val_corpus")
    text = read_corpus(data.corpus, data)  # a bad val_corpus path failed before this long read
    return fit_language_model(out, text, val_text, data, model, trainer, resume, **fit_options)


UNKNOWN_WARNING = 0.5  # a validation text with more unknown tokens than this is named


def _warn_if_mostly_unknown(val_ids: torch.Tensor, vectorizer: TextVectorizer) -> None:
    """Name a val_corpus most of whose tokens the training vocabulary lacks: its val_loss
    then scores <unk> predictions, and looks ordinary (another language, another level)."""
    unknown = float((val_ids == vectorizer.vocab.unk_id).float().mean()) if len(val_ids) else 0.0
    if unknown > UNKNOWN_WARNING:
        logger.warning("val_corpus: %.0f%% of its tokens are not in the training vocabulary "
                       "(<unk>); its val_loss says little about the training text", 100 * unknown)  # fmt: skip


def fit_language_model(
    out: str | Path,
    text: str,
    val_text: str | None,
    data: LMDataConfig,
    model: LanguageModelConfig | dict[str, Any] | None = None,
    trainer: TrainerConfig | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    verbose: int | None = None,
) -> Progress:
    """Train a language model on the text ``text`` into the run directory ``out``.

    ``val_text`` None holds out the last ``data.val_fraction`` of the ids. ``model`` gives the
    LanguageModelConfig options (a dict is checked for unknown keys); ``vocab_size`` comes
    from the text. The same seed on the same machine gives the same weights.
    """
    trainer = trainer or LMTrainerConfig()
    if not isinstance(model, LanguageModelConfig):
        model = from_dict(LanguageModelConfig, model or {}, "model")
    seed_everything(trainer.seed)
    if data.lowercase:
        text = text.lower()
    vectorizer = build_vectorizer(text, data)
    ids = encode_corpus(text, vectorizer)
    val_ids = None
    if val_text is not None:
        val_ids = encode_corpus(val_text.lower() if data.lowercase else val_text, vectorizer)
        _warn_if_mostly_unknown(val_ids, vectorizer)
    default_size = defaults(LanguageModelConfig)["embedding_size"]
    source = embedding_source(data.embeddings, model.embedding_size, default_size)
    matrix, size = initial_embedding(source, vectorizer, model.embedding_size, default_size,
                                     trainer.seed, [ids.numpy()])  # fmt: skip
    model_config = replace(model, vocab_size=vectorizer.vocab_size, embedding_size=size)
    task = LanguageModelingTask(ids, vectorizer, data, val_ids)
    network = LanguageModel(model_config)
    if matrix is not None and network.embedding is not None:
        with torch.no_grad():
            network.embedding.weight.copy_(torch.from_numpy(matrix))
    return Trainer(network, task, trainer, out, None, callbacks, verbose).fit(resume)
