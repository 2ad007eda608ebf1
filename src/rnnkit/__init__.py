"""rnnkit: recurrent neural networks for text, on PyTorch.

The Python API::

    import rnnkit
    clf = rnnkit.TextClassifier(cell="gru", bidirectional=True).fit(texts, labels, epochs=5)
    lm = rnnkit.LanguageModel(level="char").fit("nietzsche", minutes=5)
    model = rnnkit.load("runs/reviews")

Also exported: the config dataclasses that own every default (``ClassifierConfig``,
``LanguageModelConfig``, ``ClassifyDataConfig``, ``LMDataConfig``, ``TrainerConfig`` and the
per-task ``ClassifierTrainerConfig``, ``LMTrainerConfig``), ``rnnkit.callbacks`` and the
recurrent engine ``rnnkit.nn``. Subpackages: ``rnnkit.text`` (strings <-> ids),
``rnnkit.data`` (readers, batching, bundled corpora), ``rnnkit.models``, ``rnnkit.train``,
``rnnkit.generate`` and the ``rnnkit`` command line (``rnnkit.cli``).
"""

__version__ = "0.1.0"

from rnnkit import callbacks, nn
from rnnkit.estimators import LanguageModel, TextClassifier, load
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.language_model import LanguageModelConfig
from rnnkit.tasks.classification import ClassifierTrainerConfig, ClassifyDataConfig
from rnnkit.tasks.language_modeling import LMDataConfig, LMTrainerConfig
from rnnkit.train.trainer import TrainerConfig

__all__ = [
    "ClassifierConfig", "ClassifierTrainerConfig", "ClassifyDataConfig", "LMDataConfig",
    "LMTrainerConfig", "LanguageModel", "LanguageModelConfig", "TextClassifier", "TrainerConfig",
    "__version__", "callbacks", "load", "nn",
]  # fmt: skip
