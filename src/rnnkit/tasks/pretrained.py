"""Initial embedding matrices from word vectors, shared by the classifier and the language model.

``initial_embedding`` turns the ``embeddings`` option ("default": the bundled GloVe 6B 50d,
"none"/None: random, or a vectors file PATH) and the configured embedding size into the
(V, E) matrix a model starts from (or None for the model's own random init), logging the
coverage: tokens found, missing, examples, and the share of the running words covered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from rnnkit.data.vectors import BUNDLED_DIM, BUNDLED_NAME, load_bundled_vectors
from rnnkit.embeddings import build_embedding_matrix, load_vectors
from rnnkit.errors import invalid
from rnnkit.text import TextVectorizer

logger = logging.getLogger("rnnkit.tasks")


def pretrained_matrix(
    path: str, vectorizer: TextVectorizer, seed: int, ids: Sequence[Sequence[int]] = ()
) -> np.ndarray:
    """The (V, D) embedding matrix of the vectorizer's tokens from the bundled vectors
    (``path`` "default") or a vectors file; missing tokens are drawn from a normal with the
    found rows' per-dimension mean and std.

    Logs the coverage: tokens found, missing, examples, and the share of the running words
    of ``ids`` (the encoded training texts, <unk> counted as missing) that have a vector.
    """
    tokens = list(vectorizer.vocab)
    vectors = load_bundled_vectors() if path == BUNDLED_NAME else load_vectors(path, vocab=tokens)
    matrix, coverage = build_embedding_matrix(vectors, tokens, seed=seed)
    line = coverage.summary()
    if len(ids):
        found = np.array([token in vectors for token in tokens])  # (V,) exact or lower-case
        running = np.concatenate([np.asarray(row, dtype=np.int64) for row in ids])
        counts = np.bincount(running, minlength=len(tokens))  # (V,) occurrences of each id
        line += f"; {counts[found].sum() / max(counts.sum(), 1):.1%} of the running words covered"
    logger.info(line)
    return matrix


def initial_embedding(
    embeddings: str | None,
    vectorizer: TextVectorizer,
    size: int,
    default_size: int,
    seed: int,
    ids: Sequence[Sequence[int]] = (),
    fixed_size: bool = False,
) -> tuple[np.ndarray | None, int]:
    """(matrix (V, E) or None for a random start, E) for the ``embeddings`` option.

    ``size`` is the configured embedding size; left at ``default_size`` it becomes the
    vectors' dimension. An explicit other size makes the bundled vectors give way to a random
    start (logged) and a vectors file of another dimension an error. ``fixed_size`` (the size
    comes from a language model) treats ``size`` as explicit even when it equals the default.
    """
    source = None if embeddings in (None, "none") else embeddings
    free = () if fixed_size else (default_size,)
    if source == BUNDLED_NAME and size not in (BUNDLED_DIM, *free):
        logger.info(  # info, not warning: an explicit size is a choice (verbose=0 stays silent)
            f"embeddings: random, as embedding_size={size} is not the bundled vectors' "
            f"{BUNDLED_DIM}"
        )
        source = None
    if source is None:
        return None, size
    matrix = pretrained_matrix(source, vectorizer, seed, ids)
    if size not in (matrix.shape[1], *free):
        raise invalid("embedding_size", size, f"{matrix.shape[1]}, the vectors' dimension")
    return matrix, matrix.shape[1]
