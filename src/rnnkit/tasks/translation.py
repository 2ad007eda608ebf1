"""Translation as a training task: sentence pairs -> ids -> length buckets -> Trainer.

Dimensions: N pairs, B batch, S source steps, T target steps (+1 with <bos>/<eos>), V_t target
vocabulary.

``train_translator`` reads the training pairs (two aligned files, or one TSV/CSV), the
validation pairs (or holds out ``val_fraction``) and optional test pairs, builds word-level
vectorizers (``word_punct`` tokens, case kept; separate source and target vocabularies unless
``shared_vocab``; words seen fewer than ``min_freq`` times become ``<unk>``), and trains with
teacher forcing: the decoder reads ``<bos> y_1 .. y_n`` and predicts ``y_1 .. y_n <eos>``
(cross-entropy over the real target tokens, optional label smoothing and scheduled sampling).
Batches group pairs of similar source length. Validation logs loss, perplexity and, with
sacrebleu installed, greedy BLEU; the best checkpoint has the lowest ``val_loss``. At the end
the run directory gets ``alignments/`` (attention of a few validation sentences) and, with test
pairs, ``test_metrics.json`` (beam search, sacrebleu BLEU and chrF).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.config import check_types, from_dict
from rnnkit.data.batching import BucketBatcher, collate
from rnnkit.data.parallel import ParallelTexts, read_parallel
from rnnkit.errors import DataError, invalid
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.seq2seq_search import (
    Translation,
    beam_translate,
    check_length_limits,
    greedy_translate,
    max_lengths,
)
from rnnkit.tasks.classification import MAX_LEN, MAX_VOCAB
from rnnkit.tasks.generate_config import MAX_BEAM, MAX_LENGTH_PENALTY, check_length_penalty_used
from rnnkit.text import (
    BOS,
    EOS,
    PAD_ID,
    TextVectorizer,
    Tokenizer,
    WhitespaceTokenizer,
    WordPunctTokenizer,
    WordTokenizer,
)
from rnnkit.text.detokenize import detokenize
from rnnkit.train.bleu import corpus_scores, have_sacrebleu
from rnnkit.train.callbacks import Callback
from rnnkit.train.device import resolve_device
from rnnkit.train.metrics import perplexity
from rnnkit.train.run_dir import check_run_dir
from rnnkit.train.trainer import Progress, Trainer, TrainerConfig, seed_everything
from rnnkit.validation import MAX_BATCH, check_float, check_int

logger = logging.getLogger("rnnkit.tasks.translation")
TOKENIZERS = ("word_punct", "whitespace")
PAIR_FORMATS = ("tsv", "csv")
EVAL_BATCH_SIZE = 128  # sentences scored or decoded at once


@dataclass
class TranslationDataConfig:
    """Where the pairs come from, how they become ids and batches ("data" in config.json)."""

    source: str = ""  # source sentences, one a line; or a two-column TSV/CSV when target is None
    target: str | None = None  # target sentences aligned line by line with source
    val_source: str | None = None  # validation pairs (as source/target); None holds out val_fraction
    val_target: str | None = None  # validation target sentences aligned with val_source
    test_source: str | None = None  # test pairs scored with beam search after training
    test_target: str | None = None  # test target sentences aligned with test_source
    format: str | None = None  # tsv | csv for one-file pairs; None = from the suffix
    header: bool = False  # the first TSV/CSV row names the columns
    skip_bad: bool = False  # count and skip empty or over-long pairs instead of failing
    tokenizer: str = "word_punct"  # word_punct (words and punctuation) | whitespace
    lowercase: bool = False  # lower-case both sides (BLEU is then case-insensitive)
    shared_vocab: bool = False  # one vocabulary for both sides
    min_freq: int = 2  # rarer words become <unk>
    max_vocab: int | None = None  # cap per vocabulary incl. specials; None = every word >= min_freq
    max_len: int = 80  # tokens per side of a training pair; longer: an error (or skipped with skip_bad)
    batch_size: int = 64  # B: pairs per training batch
    val_fraction: float = 0.05  # held out of the training pairs when there is no val_source
    label_smoothing: float = 0.1  # of the training cross-entropy (0 = none)
    sample_prob: float = 0.0  # scheduled sampling: chance of feeding the model's own token

    def __post_init__(self) -> None:
        check_types(self)
        if self.format is not None and self.format not in PAIR_FORMATS:
            raise invalid("format", self.format, "tsv, csv or None (from the file's suffix)")
        if self.tokenizer not in TOKENIZERS:
            raise invalid("tokenizer", self.tokenizer, f"one of {', '.join(TOKENIZERS)}")
        check_int("min_freq", self.min_freq, 1)
        check_int("max_len", self.max_len, 1, MAX_LEN)  # the caps of train classify
        check_int("batch_size", self.batch_size, 1, MAX_BATCH)
        check_int("max_vocab", self.max_vocab, 5, MAX_VOCAB, optional=True)  # 4 specials, a word
        if not 0 < self.val_fraction < 0.5:
            raise invalid("val_fraction", self.val_fraction, "a fraction in (0, 0.5)")
        for name in ("label_smoothing", "sample_prob"):
            if not 0 <= getattr(self, name) < 1:
                raise invalid(name, getattr(self, name), "a probability in [0, 1)")
        for a, b in (("val_source", "val_target"), ("test_source", "test_target")):
            if getattr(self, b) is not None and getattr(self, a) is None:
                raise invalid(b, getattr(self, b), f"to come with {a}")
            for name in (a, b):
                if getattr(self, name) is not None and not str(getattr(self, name)).strip():
                    raise invalid(name, getattr(self, name), "a path (empty path)")

    def read(
        self, source: str, target: str | None, training: bool = False, role: str = "source"
    ) -> ParallelTexts:
        """Read pairs with these options; what was skipped is counted in the result (logged
        by :func:`log_skipped` once the run is known to start).

        ``max_len`` applies to ``training`` pairs only: validation and test sets are scored
        whole. Every pair skipped is a DataError.
        """
        pairs = read_parallel(
            source, target, format=self.format, header=self.header, skip_bad=self.skip_bad,
            role=role,
        )  # fmt: skip
        if training:
            count = self.make_tokenizer().tokenize
            pairs = pairs.drop_long(lambda s: len(count(s)), self.max_len, self.skip_bad)
        if not pairs:
            raise DataError(
                f"{pairs.source}: all {pairs.skipped:,} pairs skipped, e.g. "
                f"{pairs.skipped_examples[0]}; expected pairs with text on both sides and at "
                f"most max_len={self.max_len} tokens a side"
            )
        return pairs

    def make_tokenizer(self) -> Tokenizer:
        """The word tokenizer of both sides (lower-casing first with ``lowercase``)."""
        if self.tokenizer == "whitespace":
            return WordTokenizer("lower") if self.lowercase else WhitespaceTokenizer()
        return WordPunctTokenizer(lower=self.lowercase)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Seq2SeqTrainerConfig(TrainerConfig):
    """TrainerConfig with translation's defaults ("trainer" in config.json; CLI and API use it)."""

    lr: float = 2e-3  # peak learning rate
    warmup_steps: int = 100  # linear warm-up from lr / warmup_steps
    epochs: int | None = 10  # budget: passes over the training pairs (default budget: 10 epochs)


def build_vectorizers(
    pairs: ParallelTexts, data: TranslationDataConfig
) -> tuple[TextVectorizer, TextVectorizer]:
    """Source and target vectorizers adapted on the training pairs (one shared on request)."""
    tokenizer = data.make_tokenizer()

    def vectorizer(texts: Sequence[str]) -> TextVectorizer:
        return TextVectorizer(
            tokenizer, max_tokens=data.max_vocab, min_freq=data.min_freq, specials=[BOS, EOS]
        ).adapt(texts)

    if data.shared_vocab:
        shared = vectorizer([*pairs.sources, *pairs.targets])
        return shared, shared
    return vectorizer(pairs.sources), vectorizer(pairs.targets)


def encode_targets(vectorizer: TextVectorizer, texts: Sequence[str]) -> list[list[int]]:
    """``<bos> y_1 .. y_n <eos>`` ids of each target sentence."""
    vocab = vectorizer.vocab
    return [[vocab.bos_id, *vectorizer.encode(t), vocab.eos_id] for t in texts]  # type: ignore[list-item]


MAX_SOURCE_TOKENS = 10_000  # one source sentence at most: attention costs source x output


def encode_sources(
    vectorizer: TextVectorizer, texts: Sequence[str], pairs: ParallelTexts | None = None
) -> list[list[int]]:
    """Ids of each source sentence (an empty one becomes one <pad> step when collated).

    A sentence over MAX_SOURCE_TOKENS is a DataError naming it: ``file:line`` of ``pairs``
    (whose ``sources`` are ``texts``), else its position.
    """
    encoded = [vectorizer.encode(text) for text in texts]
    for i, ids in enumerate(encoded):
        if len(ids) > MAX_SOURCE_TOKENS:
            where = f"source sentence {i + 1}" if pairs is None else (
                f"{pairs.source}:{pairs.lines[i]}: source sentence")  # fmt: skip
            raise DataError(f"{where}: {len(ids):,} tokens; expected at most "
                            f"{MAX_SOURCE_TOKENS:,} (one sentence per line)")  # fmt: skip
    return encoded


def teacher_forced_loss(
    model: Seq2Seq, src: Tensor, lengths: Tensor, tgt: Tensor, smoothing: float = 0.0,
    sample_prob: float = 0.0,
) -> tuple[Tensor, int]:  # fmt: skip
    """Mean cross-entropy of tgt (B, T+1) = <bos> .. <eos> given src (B, S) over the target
    tokens that are not <pad>; and their count."""
    gold = tgt[:, 1:]
    loss, _ = model(src, lengths, tgt[:, :-1], sample_prob, targets=gold, label_smoothing=smoothing)
    return loss, int((gold != PAD_ID).sum())


@torch.no_grad()
def corpus_loss(model: Seq2Seq, sources: list[list[int]], targets: list[list[int]]) -> float:
    """Mean next-token loss (nats) over all real target tokens, no smoothing."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    lengths = [max(1, len(s)) for s in sources]
    for index in BucketBatcher(lengths, EVAL_BATCH_SIZE, shuffle=False):
        src, lens = collate([sources[i] for i in index])
        tgt, _ = collate([targets[i] for i in index])
        loss, tokens = teacher_forced_loss(model, src.to(device), lens, tgt.to(device))
        total, count = total + loss.item() * tokens, count + tokens
    return total / max(count, 1)


@dataclass(frozen=True)
class DecodingConfig:
    """How translations are searched: ``rnnkit translate``/``evaluate`` flags, API keywords.

    Ranges: beam in [1, 1000]; length_penalty in [-10, 10] (as for ``rnnkit generate``);
    max_len_ratio in [0, 100]; max_len_offset in [0, 10000]; a translation has at most 10,000
    tokens whatever the limit (``rnnkit.seq2seq_search``).
    """

    beam: int = 5  # beam width in [1, 1000]; 1 = greedy
    length_penalty: float = 1.0  # beam score = log P / length^alpha, alpha in [-10, 10]; beam > 1 only
    max_len_ratio: float = 1.5  # output limit = ratio * source length + max_len_offset tokens, at most 10000; ratio in [0, 100]
    max_len_offset: int = 10  # tokens added to the output limit, in [0, 10000]

    def __post_init__(self) -> None:
        check_types(self)  # numpy numbers become Python's
        check_int("beam", self.beam, 1, MAX_BEAM)
        check_float("length_penalty", self.length_penalty, -MAX_LENGTH_PENALTY, MAX_LENGTH_PENALTY)
        check_length_penalty_used(self.beam, self.length_penalty, type(self).length_penalty)
        check_length_limits(self.max_len_ratio, self.max_len_offset)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.no_grad()
def decode(
    model: Seq2Seq, sources: list[list[int]], target_vocab: TextVectorizer, decoding: DecodingConfig
) -> list[Translation]:
    """Translations of id lists, in their order, decoded in batches of similar length."""
    device = next(model.parameters()).device
    vocab = target_vocab.vocab
    bos, eos = vocab.bos_id, vocab.eos_id
    banned = [vocab.pad_id, bos]
    out: list[Translation | None] = [None] * len(sources)
    lengths = [max(1, len(s)) for s in sources]
    batch = max(1, EVAL_BATCH_SIZE // decoding.beam)
    for index in BucketBatcher(lengths, batch, shuffle=False):
        src, lens = collate([sources[i] for i in index])
        limits = max_lengths(lens, decoding.max_len_ratio, decoding.max_len_offset)
        if decoding.beam == 1:
            found = greedy_translate(model, src.to(device), lens, bos, eos, limits, banned)  # type: ignore[arg-type]
        else:
            found = beam_translate(model, src.to(device), lens, bos, eos, limits, decoding.beam,
                                   decoding.length_penalty, banned)  # type: ignore[arg-type]  # fmt: skip
        for i, translation in zip(index, found, strict=True):
            out[i] = translation
    return out  # type: ignore[return-value]


def target_text(vectorizer: TextVectorizer, ids: Sequence[int]) -> str:
    """Detokenised text of target ids (specials dropped, <unk> kept visible)."""
    tokens = vectorizer.vocab.lookup_tokens(ids)
    return detokenize(t for t in tokens if t not in (BOS, EOS, "<pad>"))


def reference_text(text: str, data: TranslationDataConfig) -> str:
    """A reference as BLEU sees it: as written, lower-cased when the model lower-cases."""
    return text.lower() if data.lowercase else text


class TranslationTask:
    """The trainer's view of parallel text: length-bucketed batches and validation scores."""

    name = "seq2seq"
    metric = "val_loss"
    maximize = False
    unit = "tok"

    def __init__(
        self, train: ParallelTexts, val: ParallelTexts, vectorizers: tuple[TextVectorizer, TextVectorizer],
        data: TranslationDataConfig, seed: int = 0,
    ) -> None:  # fmt: skip
        self.source_vectorizer, self.target_vectorizer = vectorizers
        self.data, self.val = data, val
        self.train_src = encode_sources(self.source_vectorizer, train.sources, train)
        self.train_tgt = encode_targets(self.target_vectorizer, train.targets)
        self.val_src = encode_sources(self.source_vectorizer, val.sources, val)
        self.val_tgt = encode_targets(self.target_vectorizer, val.targets)
        lengths = [max(1, len(s)) for s in self.train_src]
        self.batcher = BucketBatcher(lengths, data.batch_size, shuffle=True, seed=seed)

    def batches_per_epoch(self) -> int:
        return len(self.batcher)

    def train_batches(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """(src (B, S), lengths (B,), tgt (B, T+1)) of epoch ``epoch`` from batch ``start``."""
        self.batcher.set_epoch(epoch)
        for index in list(self.batcher)[start:]:
            src, lengths = collate([self.train_src[i] for i in index])
            tgt, _ = collate([self.train_tgt[i] for i in index])
            yield src, lengths, tgt

    def train_step(self, model: Seq2Seq, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, int]:
        src, lengths, tgt = batch
        device = next(model.parameters()).device
        return teacher_forced_loss(model, src.to(device), lengths, tgt.to(device),
                                   self.data.label_smoothing, self.data.sample_prob)  # fmt: skip

    def evaluate(self, model: Seq2Seq) -> dict[str, float]:
        """val_loss, val_ppl and (with sacrebleu) greedy val_bleu on detokenised output."""
        loss = corpus_loss(model, self.val_src, self.val_tgt)
        metrics = {"val_loss": loss, "val_ppl": perplexity(loss)}
        if have_sacrebleu():
            found = decode(model, self.val_src, self.target_vectorizer, DecodingConfig(beam=1))
            hypotheses = [target_text(self.target_vectorizer, t.ids) for t in found]
            references = [reference_text(t, self.data) for t in self.val.targets]
            metrics["val_bleu"] = corpus_scores(hypotheses, references)["bleu"]
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {}  # the batch order follows from (seed, epoch)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def vocab(self) -> dict[str, Any]:
        return vocab_of(self.source_vectorizer, self.target_vectorizer)

    def run_sections(self) -> dict[str, Any]:
        return {"vectorizer": {"shared": self.data.shared_vocab}, "data": self.data.to_dict()}


def log_skipped(pairs: ParallelTexts | None) -> None:
    """Warn of the pairs that :meth:`TranslationDataConfig.read` skipped (``skip_bad``)."""
    if pairs is not None and pairs.skipped:
        logger.warning("%s: skipped %d pairs, e.g. %s", pairs.source, pairs.skipped,
                       pairs.skipped_examples[0])  # fmt: skip


def vocab_of(source: TextVectorizer, target: TextVectorizer) -> dict[str, Any]:
    """A checkpoint's vocab.json of an encoder-decoder: both vectorizers."""
    return {"source": source.to_dict(), "target": target.to_dict()}


def split_pairs(pairs: ParallelTexts, fraction: float, seed: int) -> tuple[ParallelTexts, ParallelTexts]:
    """A seeded random (train, val) split holding out ``fraction`` of the pairs (at least 1)."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    held = max(1, round(fraction * len(pairs)))
    if held >= len(pairs):
        raise DataError(f"{pairs.source}: {len(pairs)} pairs; expected at least 2 to hold out validation")
    return pairs.subset(sorted(order[held:])), pairs.subset(sorted(order[:held]))


def train_translator(
    out: str | Path,
    data: TranslationDataConfig,
    model: Seq2SeqConfig | dict[str, Any] | None = None,
    trainer: TrainerConfig | None = None,
    resume: bool = False,
    **fit_options: Any,
) -> tuple[Progress, dict[str, Any] | None]:
    """Train an encoder-decoder on the files of ``data`` into the run directory ``out``.

    Reads ``data.source``/``data.target`` (and the validation and test pairs when named),
    then runs :func:`fit_translator` (``fit_options``: its ``callbacks`` and ``verbose``).
    """
    if not data.source:
        raise invalid("source", data.source, "a file of source sentences (or of pairs)")
    one_file = [a for a, b in (("source", "target"), ("val_source", "val_target"),
                               ("test_source", "test_target"))
                if getattr(data, a) is not None and getattr(data, b) is None]  # fmt: skip
    for name, value in (("format", data.format), ("header", data.header or None)):
        if value is not None and not one_file:  # nothing it applies to: a mistake, say so
            raise invalid(name, value, "no such option with two aligned files of sentences "
                          "(--source and --target): it is for one TSV/CSV file of pairs")  # fmt: skip
    if not isinstance(model, Seq2SeqConfig):
        model = from_dict(Seq2SeqConfig, model or {}, "model")  # checked before the data
    trainer = trainer or Seq2SeqTrainerConfig()
    check_run_dir(out, "seq2seq", resume)
    resolve_device(trainer.device)  # no CUDA: one error before a long read
    train = data.read(data.source, data.target, training=True)
    val = (data.read(data.val_source, data.val_target, role="val_source")
           if data.val_source is not None else None)  # fmt: skip
    test = (data.read(data.test_source, data.test_target, role="test_source")
            if data.test_source is not None else None)  # fmt: skip
    return fit_translator(out, train, val, test, data, model, trainer, resume, **fit_options)


def fit_translator(
    out: str | Path,
    train: ParallelTexts,
    val: ParallelTexts | None,
    test: ParallelTexts | None,
    data: TranslationDataConfig,
    model: Seq2SeqConfig | dict[str, Any] | None = None,
    trainer: TrainerConfig | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
    verbose: int | None = None,
) -> tuple[Progress, dict[str, Any] | None]:
    """Train an encoder-decoder on sentence pairs in memory into the run directory ``out``.

    ``val`` None holds out a seeded ``data.val_fraction`` of ``train``. ``model`` gives the
    Seq2SeqConfig options (a dict is checked for unknown keys); the vocabulary sizes come from
    the data. The same seed on the same machine gives the same weights. Afterwards: alignments
    of validation sentences, and test scores with ``test`` (see the module docstring). Returns
    the final progress and the test metrics (None without test pairs).
    """
    from rnnkit.tasks.translation_inference import finish_run

    trainer = trainer or Seq2SeqTrainerConfig()
    if not isinstance(model, Seq2SeqConfig):
        model = from_dict(Seq2SeqConfig, model or {}, "model")
    resolve_device(trainer.device)  # refused before anything is logged
    seed_everything(trainer.seed)
    read_sets = (train, val, test)  # their skipped pairs are logged once the data is known good
    if val is None:
        train, val = split_pairs(train, data.val_fraction, trainer.seed)
    vectorizers = build_vectorizers(train, data)
    config = replace(model, source_vocab_size=vectorizers[0].vocab_size,
                     target_vocab_size=vectorizers[1].vocab_size)  # fmt: skip
    task = TranslationTask(train, val, vectorizers, data, trainer.seed)
    network = Seq2Seq(config)
    for pairs in read_sets:
        log_skipped(pairs)
    logger.info(
        "data: %d training, %d validation pairs; vocabularies %d source, %d target; %d parameters",
        len(train), len(val), config.source_vocab_size, config.target_vocab_size,
        network.num_parameters(),
    )  # fmt: skip
    progress = Trainer(network, task, trainer, out, None, callbacks, verbose).fit(resume)
    return progress, finish_run(Path(out), val, test, trainer.device)
