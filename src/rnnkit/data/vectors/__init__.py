"""Word vectors bundled with the package: 100,000 GloVe 6B words, 50 dimensions, int8.

``load_bundled_vectors()`` returns them as :class:`rnnkit.embeddings.WordVectors` (float32),
offline, in well under a second. They are the 100,000 most frequent words of GloVe 6B
(Pennington, Socher & Manning 2014; Public Domain Dedication and License, PDDL 1.0), in the
file's own order (most frequent first), each row quantised to int8 with its own float16 scale
(every value within half a scale step: 0.4% of the row's largest magnitude); see README.md in
this folder and ``scripts/build_bundled_vectors.py``, which made them. ``rnnkit train
classify`` uses them by default (``--embeddings default``); their tokens are those of
``standardize="glove"``.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from rnnkit.embeddings import WordVectors
from rnnkit.errors import DataError

__all__ = ["BUNDLED_DIM", "BUNDLED_NAME", "VECTORS_FILE", "WORDS_FILE", "load_bundled_vectors"]

BUNDLED_NAME = "default"  # what ``--embeddings`` / ``ClassifyDataConfig.embeddings`` call them
BUNDLED_DIM = 50  # their dimension
VECTORS_FILE = "glove.6B.50d.100k.safetensors"  # "vectors": (N, 50) int8, "scales": (N,) fp16
WORDS_FILE = "glove.6B.50d.100k.words.txt"  # N lines, line i = the word of row i


def load_bundled_vectors() -> WordVectors:
    """The bundled GloVe 6B 50d vectors: (100,000, 50) float32, rows in frequency order.

    Raises:
        DataError: the package's data files are missing or disagree (a broken install).
    """
    from safetensors.numpy import load  # here: importing the package stays light

    folder = resources.files(__name__)
    try:
        tensors = load((folder / VECTORS_FILE).read_bytes())
        scales = tensors["scales"].astype(np.float32)[:, None]  # (N, 1)
        vectors = tensors["vectors"].astype(np.float32) * scales
        words = (folder / WORDS_FILE).read_text(encoding="utf-8").split("\n")
    except (OSError, KeyError) as error:
        raise DataError(f"bundled word vectors unreadable ({error}); reinstall rnnkit") from None
    if words and words[-1] == "":
        words.pop()
    if vectors.shape[0] != len(words):
        raise DataError(
            f"bundled word vectors: {vectors.shape[0]} rows but {len(words)} words; reinstall rnnkit"
        )
    return WordVectors(words, vectors)
