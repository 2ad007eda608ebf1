"""rnnkit: recurrent neural networks for text, on PyTorch.

The Python API::

    import rnnkit
    clf = rnnkit.TextClassifier(cell="gru", bidirectional=True).fit(texts, labels, epochs=5)
    lm = rnnkit.LanguageModel(level="char").fit("nietzsche", minutes=5)
    tr = rnnkit.Seq2Seq(attention="general").fit(german, english, epochs=10)
    model = rnnkit.load("runs/reviews")

Also exported: the config dataclasses that own every default (``ClassifierConfig``,
``LanguageModelConfig``, ``Seq2SeqConfig``, ``ClassifyDataConfig``, ``LMDataConfig``,
``TranslationDataConfig``, ``TrainerConfig`` and the per-task ``ClassifierTrainerConfig``,
``LMTrainerConfig``, ``Seq2SeqTrainerConfig``), ``rnnkit.callbacks`` and the
recurrent engine ``rnnkit.nn``. Subpackages: ``rnnkit.text`` (strings <-> ids),
``rnnkit.data`` (readers, batching, bundled corpora), ``rnnkit.models``, ``rnnkit.train``,
``rnnkit.generate`` and the ``rnnkit`` command line (``rnnkit.cli``).
"""

__version__ = "0.1.0"

from rnnkit import callbacks, nn
from rnnkit.estimators import LanguageModel, Seq2Seq, TextClassifier, load
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.language_model import LanguageModelConfig
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.classification import ClassifierTrainerConfig, ClassifyDataConfig
from rnnkit.tasks.language_modeling import LMDataConfig, LMTrainerConfig
from rnnkit.tasks.translation import Seq2SeqTrainerConfig, TranslationDataConfig
from rnnkit.train.trainer import TrainerConfig

__all__ = [
    "ClassifierConfig", "ClassifierTrainerConfig", "ClassifyDataConfig", "LMDataConfig",
    "LMTrainerConfig", "LanguageModel", "LanguageModelConfig", "Seq2Seq", "Seq2SeqConfig",
    "Seq2SeqTrainerConfig", "TextClassifier", "TrainerConfig", "TranslationDataConfig",
    "__version__", "callbacks", "load", "nn",
]  # fmt: skip
