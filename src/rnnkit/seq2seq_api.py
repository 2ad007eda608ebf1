"""``Seq2Seq``: the Python face of the translation task, in the style of the other models.

::

    from rnnkit.seq2seq_api import Seq2Seq
    model = Seq2Seq(attention="additive", hidden_size=256, epochs=10)
    model.fit(german, english, val=(val_german, val_english))
    model.translate(["Ein Hund läuft im Schnee."], beam=5)
    model.evaluate(test_german, test_english)       # {"bleu", "chrf", "loss", "ppl", ...}
    model.save("models/de-en");  Seq2Seq.load("models/de-en")

Options are fields of :class:`~rnnkit.models.seq2seq.Seq2SeqConfig` (model shape),
:class:`~rnnkit.tasks.translation.TranslationDataConfig` (tokens, vocabularies, batches,
label smoothing; not the file paths) and :class:`~rnnkit.train.trainer.TrainerConfig`
(optimisation, budget, seed). Their defaults are those dataclasses' defaults, with the
translation task's trainer overrides; an unknown option is an error.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.data.parallel import from_lists
from rnnkit.errors import RnnkitError, invalid
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.translation import (
    BUDGET_DEFAULT,
    TRAINER_DEFAULTS,
    TranslationDataConfig,
    train_translator,
)
from rnnkit.tasks.translation_inference import Alignment, LoadedTranslator, load_translator
from rnnkit.train.checkpoint import save_checkpoint
from rnnkit.train.trainer import TrainerConfig

_FILES = {"source", "target", "val_source", "val_target", "test_source", "test_target",
          "format", "header"}  # fmt: skip  # data fields that name files: fit() takes lists
_MODEL = {f.name for f in dataclasses.fields(Seq2SeqConfig)} - {"source_vocab_size", "target_vocab_size"}  # fmt: skip
_DATA = {f.name for f in dataclasses.fields(TranslationDataConfig)} - _FILES
_TRAINER = {f.name for f in dataclasses.fields(TrainerConfig)}


class Seq2Seq:
    """An encoder-decoder translator: ``fit`` on sentence pairs, ``translate``, ``evaluate``."""

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - _MODEL - _DATA - _TRAINER)
        if unknown:
            raise invalid(unknown[0], options[unknown[0]],
                          "a field of Seq2SeqConfig, TranslationDataConfig or TrainerConfig")  # fmt: skip
        self.model_options = {k: v for k, v in options.items() if k in _MODEL}
        Seq2SeqConfig(**self.model_options)  # check now, not after reading the data
        self.data = TranslationDataConfig(**{k: v for k, v in options.items() if k in _DATA})
        trainer = TRAINER_DEFAULTS | {"progress": False}
        trainer |= {k: v for k, v in options.items() if k in _TRAINER}
        if not any(trainer.get(k) is not None for k in ("epochs", "steps", "minutes")):
            trainer |= BUDGET_DEFAULT
        self.trainer = TrainerConfig(**trainer)
        self.translator: LoadedTranslator | None = None
        self.run_dir: Path | None = None

    def fit(
        self, sources: Sequence[str], targets: Sequence[str],
        val: tuple[Sequence[str], Sequence[str]] | None = None, out: str | Path | None = None,
    ) -> Seq2Seq:  # fmt: skip
        """Train on aligned lists; ``val`` = (sources, targets), else ``val_fraction`` is held out.

        The run (checkpoints, metrics, alignments) goes to ``out`` (default: a new temporary
        directory, kept in ``self.run_dir``).
        """
        self.run_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="rnnkit-seq2seq-"))
        train = from_lists(sources, targets)
        held = from_lists(*val) if val is not None else None
        train_translator(self.run_dir, self.data, self.model_options, self.trainer,
                         train=train, val=held)  # fmt: skip
        self.translator = load_translator(self.run_dir, self.trainer.device)
        return self

    @property
    def fitted(self) -> LoadedTranslator:
        if self.translator is None:
            raise RnnkitError("this Seq2Seq is not trained yet: call fit(sources, targets) or Seq2Seq.load(path)")  # fmt: skip
        return self.translator

    def translate(self, texts: Sequence[str], beam: int = 5, **decoding: Any) -> list[str]:
        """Translations of ``texts`` (``length_penalty``, ``max_len_ratio``, ``max_len_offset``)."""
        return self.fitted.translate(texts, beam, **decoding)

    def alignment(self, text: str, beam: int = 5) -> Alignment:
        """The attention weights of one translation (plot with translation_inference.plot_attention)."""
        return self.fitted.alignment(text, beam)

    def evaluate(self, sources: Sequence[str], references: Sequence[str], beam: int = 5) -> dict[str, Any]:
        """sacrebleu BLEU and chrF of the translations, loss and perplexity."""
        return self.fitted.evaluate(sources, references, beam)

    def save(self, path: str | Path) -> Path:
        """Write the trained model as a checkpoint directory (what :meth:`load` reads)."""
        t = self.fitted
        vocab = {"source": t.source_vectorizer.to_dict(), "target": t.target_vectorizer.to_dict()}
        return save_checkpoint(path, t.model.state_dict(), t.config, vocab)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Seq2Seq:
        """A trained Seq2Seq from a run directory (its best/) or a checkpoint directory."""
        translator = load_translator(path, device)
        config = translator.config
        options = {k: v for k, v in config["model"].items() if k in _MODEL}
        options |= {k: v for k, v in config["data"].items() if k in _DATA}
        options |= config["trainer"]
        model = cls(**options)
        model.translator = translator
        return model
