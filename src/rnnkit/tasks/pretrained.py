"""Initial embedding matrices from word vectors, shared by the classifier and the language model.

``embedding_source`` reads the ``embeddings`` option ("default": the bundled GloVe 6B 50d,
"none"/None: random, or a vectors file PATH) with the configured embedding size;
``add_vector_words`` lets the vectors' words into a vocabulary; ``initial_embedding`` builds
the (V, E) matrix a model starts from (or None for the model's own random init), logging the
coverage: tokens found, missing, examples, and the share of the running words covered.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from rnnkit.data.vectors import BUNDLED_DIM, BUNDLED_NAME, load_bundled_vectors
from rnnkit.embeddings import build_embedding_matrix, load_vectors
from rnnkit.errors import invalid
from rnnkit.text import TextVectorizer

logger = logging.getLogger("rnnkit.tasks")


def add_vector_words(path: str, vectorizer: TextVectorizer, limit: int) -> int:
    """Append the first ``limit`` words of the vectors (the most frequent) that the vocabulary
    lacks; returns how many.

    A word never seen in training then keeps its pretrained vector at prediction time instead
    of becoming <unk>: on short texts (MPQA's phrases) the test words unseen in training carry
    much of the meaning. Their rows start as the vectors and are trained only through the
    weight decay, so they stay where the pretrained space put them.
    """
    if limit == 0:
        return 0
    vectors = load_bundled_vectors() if path == BUNDLED_NAME else load_vectors(path, limit=limit)
    return vectorizer.extend(vectors.words[:limit])


def pretrained_matrix(
    path: str,
    vectorizer: TextVectorizer,
    seed: int,
    ids: Sequence[Sequence[int]] = (),
    added: int = 0,
) -> tuple[np.ndarray, str]:
    """The (V, D) embedding matrix of the vectorizer's tokens from the bundled vectors
    (``path`` "default") or a vectors file; missing tokens are drawn from a normal with the
    found rows' per-dimension mean and std, <unk> is their mean.

    And the coverage line to log: tokens found, missing, examples, and the share of the running
    words of ``ids`` (the encoded training texts, <unk> counted as missing) that have a vector;
    ``added`` is the number of words :func:`add_vector_words` appended (counted apart).
    """
    tokens = list(vectorizer.vocab)
    vectors = load_bundled_vectors() if path == BUNDLED_NAME else load_vectors(path, vocab=tokens)
    matrix, coverage = build_embedding_matrix(
        vectors, tokens, seed=seed, unk_id=vectorizer.vocab.unk_id
    )
    line = dataclasses.replace(coverage, found=coverage.found - added).summary()
    if len(ids):
        found = np.array([token in vectors for token in tokens])  # (V,) exact or lower-case
        running = np.concatenate([np.asarray(row, dtype=np.int64) for row in ids])
        counts = np.bincount(running, minlength=len(tokens))  # (V,) occurrences of each id
        line += f"; {counts[found].sum() / max(counts.sum(), 1):.1%} of the running words covered"
    if added:
        line += f"; {added:,} more words of the vectors in the vocabulary, for unseen words"
    return matrix, line


def _free_sizes(default_size: int, fixed_size: bool) -> tuple[int, ...]:
    """Sizes that mean "the vectors' dimension": the default, unless a language model fixed it."""
    return () if fixed_size else (default_size,)


def embedding_source(
    embeddings: str | None, size: int, default_size: int, fixed_size: bool = False
) -> str | None:
    """The vectors the ``embeddings`` option starts from ("default" or a PATH), or None for a
    random start.

    ``size`` is the configured embedding size; left at ``default_size`` it becomes the
    vectors' dimension. An explicit other size makes the bundled vectors give way to a random
    start (logged). ``fixed_size`` (the size comes from a language model) treats ``size`` as
    explicit even when it equals the default.
    """
    source = None if embeddings in (None, "none") else embeddings
    if source == BUNDLED_NAME and size not in (BUNDLED_DIM, *_free_sizes(default_size, fixed_size)):
        logger.info(  # info, not warning: an explicit size is a choice (verbose=0 stays silent)
            f"embeddings: random, as embedding_size={size} is not the bundled vectors' "
            f"{BUNDLED_DIM}"
        )
        return None
    return source


def initial_embedding(
    source: str | None,
    vectorizer: TextVectorizer,
    size: int,
    default_size: int,
    seed: int,
    ids: Sequence[Sequence[int]] = (),
    added: int = 0,
    fixed_size: bool = False,
) -> tuple[np.ndarray | None, int]:
    """(matrix (V, E) or None for a random start, E) from :func:`embedding_source`'s answer.

    A vectors file of another dimension than an explicit ``size`` (not ``default_size``, or
    any size with ``fixed_size``) is an error; ``added`` counts the words
    :func:`add_vector_words` appended (logged apart).
    """
    if source is None:
        return None, size
    matrix, coverage = pretrained_matrix(source, vectorizer, seed, ids, added)
    if size not in (matrix.shape[1], *_free_sizes(default_size, fixed_size)):
        raise invalid("embedding_size", size, f"{matrix.shape[1]}, the vectors' dimension")
    logger.info(coverage)  # after the check: an error is the one line
    return matrix, matrix.shape[1]
