"""``rnnkit.Seq2Seq``: an encoder-decoder with attention, trained on sentence pairs.

::

    model = rnnkit.Seq2Seq(attention="additive", hidden_size=256)
    model.fit(german, english, validation_data=(val_german, val_english), epochs=10)
    model.translate(["Ein Hund läuft im Schnee."], beam=5)   # ["A dog runs in the snow."]
    model.evaluate(test_german, test_english)      # {"bleu", "chrf", "loss", "perplexity", ...}
    model.save("models/de-en"); model = rnnkit.load("models/de-en")

Training is :func:`rnnkit.tasks.translation.fit_translator`, the call ``rnnkit train
seq2seq`` reaches after reading its files: same arguments and seed, same weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rnnkit.config import from_dict
from rnnkit.data.parallel import ParallelTexts, from_lists
from rnnkit.errors import invalid
from rnnkit.estimators.fitting import check_callbacks, history, run_directory
from rnnkit.estimators.inputs import as_texts
from rnnkit.estimators.params import Estimator
from rnnkit.logs import verbosity
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.translation import (
    DecodingConfig,
    Seq2SeqTrainerConfig,
    TranslationDataConfig,
    fit_translator,
)
from rnnkit.tasks.translation_inference import Alignment, LoadedTranslator, load_translator
from rnnkit.text.padding import check_text
from rnnkit.train.callbacks import Callback
from rnnkit.validation import check_unicode

FILE_OPTIONS = ("source", "target", "val_source", "val_target", "test_source", "test_target",
                "format", "header", "skip_bad")  # fmt: skip


class Seq2Seq(Estimator):
    """An encoder-decoder translator: ``fit`` on sentence pairs, then ``translate``, ``evaluate``.

    ``fit(sources, targets)`` takes two aligned collections of sentences (lists of str, numpy
    arrays, pandas Series). After ``fit`` the model holds the weights of its best validation
    loss (the checkpoint ``rnnkit translate`` would use). ``translate`` and ``evaluate`` take
    the fields of DecodingConfig as keywords (beam 5 by default).
    """

    SECTIONS: ClassVar[dict[str, type]] = {"model": Seq2SeqConfig, "data": TranslationDataConfig,
                "trainer": Seq2SeqTrainerConfig}  # fmt: skip
    HIDDEN: ClassVar[dict[str, Sequence[str]]] = {
        "model": ("source_vocab_size", "target_vocab_size", "proj_size"), "data": FILE_OPTIONS,
        "trainer": ("progress",),
    }  # fmt: skip
    fitted_: LoadedTranslator | None = None

    def fit(
        self,
        sources: Any,
        targets: Any,
        *,
        validation_data: tuple[Any, Any] | None = None,
        epochs: int | None = None,
        steps: int | None = None,
        minutes: float | None = None,
        callbacks: Sequence[Callback] = (),
        verbose: int = 1,
        out: str | Path | None = None,
    ) -> Seq2Seq:
        """Train on aligned ``sources`` and ``targets`` (N sentences each); returns self.

        validation_data: (sources, targets); None holds out ``val_fraction`` of the pairs.
        epochs / steps / minutes: the budget, replacing the constructor's (default 10 epochs).
        callbacks: rnnkit.callbacks objects (EarlyStopping, CSVLogger, TensorBoard, your own).
        verbose: 0 silent, 1 progress bar on a terminal, 2 one line every log_every steps.
        out: keep the run directory there (config.json, metrics.jsonl, best/, last/,
            alignments/); None trains in a temporary directory.
        """
        configs = self.configs({"epochs": epochs, "steps": steps, "minutes": minutes},
                               progress=verbose == 1)  # fmt: skip
        callbacks = check_callbacks(callbacks)
        train = _pairs(sources, targets, "sources", "targets")
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise invalid("validation_data", validation_data, "a pair (sources, targets)")
            val = _pairs(*validation_data, "validation_data[0]", "validation_data[1]")
        with verbosity(verbose), run_directory(out) as run:
            fit_translator(run, train, val, None, configs["data"], configs["model"],
                           configs["trainer"], callbacks=callbacks, verbose=verbose)  # fmt: skip
            self.fitted_ = load_translator(run, configs["trainer"].device)
            self.history_ = history(run)
        return self

    def translate(self, texts: Any, beam: int = 5, **decoding: Any) -> list[str]:
        """Translations of N sentences, in order (beam search; ``beam=1`` is greedy).

        decoding: the other fields of DecodingConfig (length_penalty, max_len_ratio,
        max_len_offset), with its defaults.
        """
        config = from_dict(DecodingConfig, {"beam": beam, **decoding}, "decoding")
        return self._fitted().translate(as_texts(texts, "texts"), **config.to_dict())

    def alignment(self, text: str, beam: int = 5) -> Alignment:
        """The decoder's attention over the words of one sentence's translation."""
        check_unicode(check_text(text), "text")
        if not text.strip():
            raise invalid("text", text, "a sentence with at least one word")
        return self._fitted().alignment(text, beam)

    def evaluate(self, sources: Any, references: Any, beam: int = 5, **decoding: Any) -> dict[str, Any]:
        """sacrebleu BLEU and chrF of the translations, loss (nats per token) and perplexity."""
        config = from_dict(DecodingConfig, {"beam": beam, **decoding}, "decoding")
        pairs = _pairs(sources, references, "sources", "references")
        return self._fitted().evaluate_pairs(pairs, config)



def _pairs(sources: Any, targets: Any, source_name: str, target_name: str) -> ParallelTexts:
    """Aligned sentence pairs from two collections of str."""
    texts = as_texts(sources, source_name)
    return from_lists(texts, as_texts(targets, target_name))
