"""The word vectors bundled in rnnkit.data.vectors: shape, load time, rows of the source file."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.vectors import BUNDLED_DIM, load_bundled_vectors
from rnnkit.text.glove import glove_tokens

ROOT = Path(__file__).resolve().parents[1]
GLOVE = next(
    (p / "glove" / "glove.6B.50d.100k.txt.gz"
     for p in (ROOT.parent / "shared" / "data",
               Path(os.environ.get("RNNKIT_SHARED_DATA", "/work/shared/data")))
     if (p / "glove" / "glove.6B.50d.100k.txt.gz").exists()),
    None,
)  # fmt: skip


def test_bundled_vectors_load_offline() -> None:  # load time: a benchmark, not a timed test
    vectors = load_bundled_vectors()
    assert vectors.vectors.shape == (100_000, BUNDLED_DIM)
    assert vectors.vectors.dtype == np.float32 and len(set(vectors.words)) == 100_000
    assert vectors.words[:3] == ["the", ",", "."]  # GloVe's frequency order
    for token in glove_tokens("It doesn't cost $1,000 in the U.S."):
        assert token in vectors.index, token  # the standardisation's tokens are GloVe's words
    assert vectors.similarity("good", "great") > vectors.similarity("good", "carrier") + 0.3
    for informal in ("lol", "omg", "cant", "wont", ":)"):  # GloVe ranks 46,000-79,000
        assert informal in vectors.index, informal


@pytest.mark.skipif(GLOVE is None, reason="shared GloVe file absent")
def test_bundled_rows_are_the_source_files_first_rows_within_int8_steps() -> None:
    """Each sampled row within half its quantisation step (the row's largest magnitude / 127,
    with the float16 scale's rounding on top) of the source file's row."""
    vectors = load_bundled_vectors()
    rng = np.random.default_rng(0)
    sample = set(rng.choice(len(vectors), size=200, replace=False).tolist()) | {0, 99_999}
    with gzip.open(GLOVE, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == len(vectors):  # a longer source: the bundle holds its first rows only
                assert line.split(" ", 1)[0] not in vectors.index
                break
            if i in sample:
                word, *values = line.rstrip("\n").split(" ")
                assert vectors.words[i] == word
                source = np.array(values, dtype=np.float32)
                step = np.abs(source).max() / 127
                error = np.abs(vectors.vectors[i] - source).max()
                assert error <= step / 2 * 1.002 + 1e-7, (word, error, step)
