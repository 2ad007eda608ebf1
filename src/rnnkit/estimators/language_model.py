"""``rnnkit.LanguageModel``: train on a text, generate, score held-out text.

::

    lm = rnnkit.LanguageModel(level="char")
    lm.fit(open("poems.txt").read(), minutes=5)      # a string, a path, or a list of documents
    lm.generate("the sea ", length=300, temperature=0.8, top_p=0.95, seed=1)
    lm.perplexity(held_out_text)

Training is :func:`rnnkit.tasks.language_modeling.fit_language_model`, the same call as
``rnnkit train lm``: same arguments and seed, same weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from rnnkit.config import from_dict
from rnnkit.errors import ArgumentTypeError, invalid
from rnnkit.estimators.fitting import check_callbacks, history, run_directory
from rnnkit.estimators.inputs import as_corpus, corpus_name
from rnnkit.estimators.params import Estimator
from rnnkit.logs import verbosity
from rnnkit.models.language_model import LanguageModelConfig
from rnnkit.tasks.generate_config import GenerateConfig, check_stop
from rnnkit.tasks.language_modeling import LMDataConfig, LMTrainerConfig, fit_language_model
from rnnkit.tasks.lm_inference import LoadedLanguageModel, load_language_model
from rnnkit.train.callbacks import Callback


class LanguageModel(Estimator):
    """A character- or word-level RNN language model: fit on text, then generate and score.

    ``fit(X)`` takes one text (str), a file path or bundled corpus name ("nietzsche",
    "shakespeare"), or documents (a list of str, numpy array, pandas Series, or a table's
    "text" column), joined with newlines. A str is read as a file only when it names an
    existing one; any other str is the text itself (but one word ending like a file name,
    ``"missing.txt"``, is refused: no such file). After ``fit`` the model holds the
    weights of its best validation loss (the checkpoint ``rnnkit generate`` would use).
    """

    SECTIONS: ClassVar[dict[str, type]] = {"model": LanguageModelConfig, "data": LMDataConfig, "trainer": LMTrainerConfig}
    HIDDEN: ClassVar[dict[str, Sequence[str]]] = {"model": ("vocab_size",), "data": ("corpus", "val_corpus", "format", "text_cols", "header"), "trainer": ("progress",)}
    fitted_: LoadedLanguageModel | None = None

    def fit(
        self,
        X: Any,
        *,
        validation_data: Any = None,
        epochs: int | None = None,
        steps: int | None = None,
        minutes: float | None = None,
        callbacks: Sequence[Callback] = (),
        verbose: int = 1,
        out: str | Path | None = None,
    ) -> LanguageModel:
        """Train on the text ``X``; returns self.

        validation_data: held-out text (same forms as X); None holds out the last
            ``val_fraction`` of X.
        epochs / steps / minutes: the budget, replacing the constructor's (default 10 minutes).
        callbacks: rnnkit.callbacks objects (EarlyStopping, CSVLogger, TensorBoard, your own).
        verbose: 0 silent, 1 progress bar on a terminal, 2 one line every log_every steps.
        out: keep the run directory there; None trains in a temporary directory.
        """
        configs = self.configs({"epochs": epochs, "steps": steps, "minutes": minutes},
                               progress=verbose == 1)  # fmt: skip
        callbacks = check_callbacks(callbacks)
        text = as_corpus(X, "X")
        val = None if validation_data is None else as_corpus(validation_data, "validation_data")
        data = replace(configs["data"], corpus=corpus_name(X))
        with verbosity(verbose), run_directory(out) as run:
            fit_language_model(run, text, val, data, configs["model"], configs["trainer"],
                               callbacks=callbacks, verbose=verbose)  # fmt: skip
            self.fitted_ = load_language_model(run, configs["trainer"].device)
            self.history_ = history(run)
        return self

    def generate(
        self, prompt: str = "", *, stop: Sequence[str] = (), **options: Any
    ) -> str | list[str]:
        """Continue ``prompt``; one str, or a list of str when num_samples > 1.

        options: the fields of GenerateConfig, with its defaults: length (500 tokens),
        temperature (0.8), top_k, top_p, greedy, beam, length_penalty, num_samples, seed.
        A sample ends before the first ``stop`` string in it.

        Raises:
            InvalidArgumentError: an option out of range, ``prompt`` not a str, ``stop`` not a
                list of non-empty strings (checked before the model is needed).
        """
        if not isinstance(prompt, str):
            raise invalid("prompt", prompt, "a str (the text to continue)", ArgumentTypeError)
        if isinstance(stop, (str, bytes)) or not isinstance(stop, Iterable):
            raise invalid("stop", stop, "a list of non-empty strings; wrap one as [stop]",
                          ArgumentTypeError)  # fmt: skip
        stop = list(stop)
        check_stop(stop)
        config = from_dict(GenerateConfig, options, "generate")
        texts = self._fitted().generate(prompt, **config.to_dict(), stop=stop)
        return texts[0] if config.num_samples == 1 else texts

    def evaluate(self, X: Any) -> dict[str, float]:
        """Loss (nats per token) and bits per character or perplexity of a held-out text."""
        return self._fitted().evaluate_text(as_corpus(X, "X"))

    def perplexity(self, X: Any) -> float:
        """exp(mean loss per token) of a held-out text (per character at char level)."""
        return math.exp(self.evaluate(X)["loss"])
