"""A trained encoder-decoder as text in, text out: loading, translating, alignments, scoring.

::

    tr = load_translator("runs/multi30k")                  # best/ checkpoint of a run
    tr.translate(["Ein Hund läuft im Schnee."], beam=5)     # ["A dog runs in the snow."]
    a = tr.alignment("Ein Hund läuft.")                     # tokens and attention weights
    plot_attention(a, "attention.png")
    tr.evaluate(sources, references)                        # {"bleu", "chrf", "loss", "perplexity", ...}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.config import from_dict
from rnnkit.data.batching import collate
from rnnkit.data.parallel import ParallelTexts, from_lists
from rnnkit.errors import CheckpointError, MissingDependencyError, invalid
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.lm_inference import checkpoint_vectorizer, load_task_model
from rnnkit.tasks.translation import (
    DecodingConfig,
    TranslationDataConfig,
    corpus_loss,
    decode,
    encode_sources,
    encode_targets,
    log_skipped,
    reference_text,
    target_text,
    vocab_of,
)
from rnnkit.text import EOS, TextVectorizer
from rnnkit.train.bleu import corpus_scores
from rnnkit.train.metrics import perplexity
from rnnkit.validation import check_output_file

logger = logging.getLogger("rnnkit.tasks.translation")
ALIGNMENT_EXAMPLES = 3  # validation sentences whose attention a run directory keeps


@dataclass
class Alignment:
    """Attention of one translation: ``weights[i][j]`` = α of output token i on source token j."""

    source_tokens: list[str]  # S tokens as written (unknown words too)
    output_tokens: list[str]  # the translation's tokens, then <eos>
    weights: list[list[float]]  # (len(output_tokens), S); each row sums to 1
    text: str  # the detokenised translation


@dataclass
class LoadedTranslator:
    """An encoder-decoder with its two vectorizers and run config, ready to translate."""

    model: Seq2Seq
    source_vectorizer: TextVectorizer
    target_vectorizer: TextVectorizer
    config: dict[str, Any]

    @property
    def data(self) -> TranslationDataConfig:
        return from_dict(TranslationDataConfig, self.config["data"], "data")

    def vocab(self) -> dict[str, Any]:
        """Both vectorizers, as a checkpoint's vocab.json holds them."""
        return vocab_of(self.source_vectorizer, self.target_vectorizer)

    def _translations(self, texts: Sequence[str], decoding: DecodingConfig) -> list[list[int]]:
        if isinstance(texts, str):
            raise invalid("texts", texts, "a list of strings; wrap one sentence as [text]")
        texts = list(texts)
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise invalid(f"texts[{bad}]", texts[bad], "a str")
        sources = encode_sources(self.source_vectorizer, texts)
        # a sentence without tokens (empty, blanks) translates to nothing, not to what the
        # decoder makes of one <pad> step
        spoken = [i for i, ids in enumerate(sources) if ids]
        translations: list[list[int]] = [[] for _ in sources]
        if not spoken:
            return translations
        found = decode(self.model, [sources[i] for i in spoken], self.target_vectorizer, decoding)
        for i, translation in zip(spoken, found, strict=True):
            translations[i] = translation.ids
        return translations

    def translate(
        self, texts: Sequence[str], beam: int = 5, length_penalty: float = 1.0,
        max_len_ratio: float = 1.5, max_len_offset: int = 10,
    ) -> list[str]:  # fmt: skip
        """Detokenised translations of ``texts`` (beam search; ``beam=1`` is greedy)."""
        decoding = DecodingConfig(beam, length_penalty, max_len_ratio, max_len_offset)
        return [target_text(self.target_vectorizer, ids) for ids in self._translations(texts, decoding)]  # fmt: skip

    @torch.no_grad()
    def alignment(
        self, text: str, beam: int = 5, length_penalty: float = 1.0, max_len_ratio: float = 1.5,
        max_len_offset: int = 10,
    ) -> Alignment:  # fmt: skip
        """Translate one sentence (as :meth:`translate`) and return the decoder's attention
        over its words."""
        if self.model.attention is None:
            raise invalid("model", "attention=none", "a model trained with attention")
        decoding = DecodingConfig(beam, length_penalty, max_len_ratio, max_len_offset)
        ids = self._translations([text], decoding)[0]
        vocab = self.target_vectorizer.vocab
        device = next(self.model.parameters()).device
        src, lengths = collate(encode_sources(self.source_vectorizer, [text]))
        tgt = torch.tensor([[vocab.bos_id, *ids]], device=device)
        self.model.eval()
        _, weights = self.model(src.to(device), lengths, tgt)  # (1, T, S)
        return Alignment(
            self.source_vectorizer.tokenizer.tokenize(text) or ["<pad>"],
            [*vocab.lookup_tokens(ids), EOS],
            weights[0, :, : int(lengths[0])].tolist(),  # type: ignore[index]
            target_text(self.target_vectorizer, ids),
        )

    def evaluate(
        self, sources: Sequence[str], references: Sequence[str], beam: int = 5,
        length_penalty: float = 1.0,
    ) -> dict[str, float | int]:  # fmt: skip
        """BLEU and chrF (sacrebleu, detokenised) of the translations, loss and perplexity.

        ``sources`` and ``references``: N sentences each, aligned.
        """
        pairs = from_lists(sources, references)
        return self.evaluate_pairs(pairs, DecodingConfig(beam, length_penalty))

    def evaluate_pairs(self, pairs: ParallelTexts, decoding: DecodingConfig) -> dict[str, float | int]:
        """:meth:`evaluate` of pairs read from files."""
        src = encode_sources(self.source_vectorizer, pairs.sources, pairs)
        loss = corpus_loss(self.model, src, encode_targets(self.target_vectorizer, pairs.targets))
        found = decode(self.model, src, self.target_vectorizer, decoding)
        hypotheses = [target_text(self.target_vectorizer, t.ids) for t in found]
        references = [reference_text(t, self.data) for t in pairs.targets]
        unk = self.source_vectorizer.vocab.unk_id
        unknown, total = sum(row.count(unk) for row in src), sum(len(row) for row in src)
        if unknown > total / 2:  # scored all the same, but most likely not what was meant
            logger.warning(
                "%s: %d of %d source tokens (%.0f%%) are unknown to the model's source "
                "vocabulary; are source and target swapped, or the text in another language?",
                pairs.source, unknown, total, 100 * unknown / total,
            )  # fmt: skip
        return corpus_scores(hypotheses, references) | {
            "loss": loss, "perplexity": perplexity(loss), "sentences": len(pairs), "beam": decoding.beam,
            "unknown_source_tokens": unknown,
        }  # fmt: skip

    def evaluate_files(
        self, source: str, target: str | None = None, decoding: DecodingConfig | None = None
    ) -> dict[str, float | int]:
        """Scores on pairs read as in training (two aligned files, or one TSV/CSV)."""
        pairs = self.data.read(source, target)
        log_skipped(pairs)
        return self.evaluate_pairs(pairs, decoding or DecodingConfig())


def load_translator(
    path: str | Path, device: str = "cpu", expect_sha256: str | None = None
) -> LoadedTranslator:
    """Load an encoder-decoder from a run directory (its best/) or a checkpoint directory.

    ``expect_sha256`` pins the checkpoint's manifest (see ``rnnkit.train.checkpoint``).
    """
    ckpt, model = load_task_model(
        path, ("seq2seq", "a translation model"), (Seq2SeqConfig, Seq2Seq),
        ("vectorizer", "data"), device, expect_sha256,
    )  # fmt: skip
    if not isinstance(ckpt.vocab, dict) or not {"source", "target"} <= ckpt.vocab.keys():
        raise CheckpointError(f"{ckpt.path}: vocab.json lacks the source and target vocabularies")
    source = checkpoint_vectorizer(ckpt, ckpt.vocab["source"], model.config.source_vocab_size)
    target = checkpoint_vectorizer(ckpt, ckpt.vocab["target"], model.config.target_vocab_size)
    return LoadedTranslator(model, source, target, ckpt.config)


def check_plot_file(name: str, path: str | Path) -> Path:
    """``path`` as a file :func:`plot_attention` can write, checked before any work is done:
    not empty, not a directory, in an existing directory that may be written to, named with
    an image format of matplotlib (.png, .pdf, .svg, .jpg, ...), which must be installed.

    Raises DataError or InvalidArgumentError for the path (:func:`check_output_file`) or its
    suffix, MissingDependencyError without matplotlib; messages name the argument ``name``.
    """
    what = "an image file to write (.png, .pdf, .svg, ...)"
    out = check_output_file(name, path, what, existing_directory=True)
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        message = f"{name} needs matplotlib: pip install 'rnnkit[plot]'"
        raise MissingDependencyError(message) from None
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if out.suffix.lower().lstrip(".") not in formats:
        raise invalid(name, str(out), f"a file name ending in .{', .'.join(formats)}")
    return out


def plot_attention(alignment: Alignment, path: str | Path) -> bool:
    """Save the attention matrix as a heatmap (source words across, output words down).

    Returns False when matplotlib (the ``plot`` extra) is missing. :func:`check_plot_file`
    checks ``path`` beforehand.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows, cols = len(alignment.output_tokens), len(alignment.source_tokens)
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * cols + 2), max(3, 0.4 * rows + 1.5)))
    ax.imshow(alignment.weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(cols), alignment.source_tokens, rotation=60, ha="right")
    ax.set_yticks(range(rows), alignment.output_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def finish_run(
    out: Path, val: ParallelTexts, test: ParallelTexts | None, device: str
) -> dict[str, Any] | None:
    """After training: alignments of a few validation sentences, then test scores (if any).

    Writes ``out/alignments/alignments.json`` (+ one PNG each with matplotlib) and, with test
    pairs, ``out/test_metrics.json``; returns the test metrics or None.
    """
    translator = load_translator(out, device)
    if translator.model.attention is not None:
        folder = out / "alignments"
        folder.mkdir(exist_ok=True)
        examples = []
        for index, sentence in enumerate(val.sources[:ALIGNMENT_EXAMPLES]):
            alignment = translator.alignment(sentence)
            plot_attention(alignment, folder / f"example_{index + 1}.png")
            examples.append({"source": sentence, "reference": val.targets[index]} | alignment.__dict__)  # fmt: skip
        (folder / "alignments.json").write_text(json.dumps(examples, indent=1) + "\n")
    if test is None:
        return None
    metrics = {"source": test.source} | translator.evaluate_pairs(test, DecodingConfig())
    (out / "test_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    logger.info("test (%s, best checkpoint, beam 5): %s", test.source, metrics)
    return metrics
