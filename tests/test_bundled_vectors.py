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
    assert vectors.vectors.shape == (50_000, BUNDLED_DIM)
    assert vectors.vectors.dtype == np.float32 and len(set(vectors.words)) == 50_000
    assert vectors.words[:3] == ["the", ",", "."]  # GloVe's frequency order
    for token in glove_tokens("It doesn't cost $1,000 in the U.S."):
        assert token in vectors.index, token  # the standardisation's tokens are GloVe's words
    assert vectors.similarity("good", "great") > vectors.similarity("good", "carrier") + 0.3


@pytest.mark.skipif(GLOVE is None, reason="shared GloVe file absent")
def test_bundled_rows_are_the_source_files_first_rows_in_float16() -> None:
    vectors = load_bundled_vectors()
    rng = np.random.default_rng(0)
    sample = set(rng.choice(len(vectors), size=200, replace=False).tolist()) | {0, 49_999}
    with gzip.open(GLOVE, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == len(vectors):
                assert line.split(" ", 1)[0] not in vectors.index  # only the first 50,000
                break
            if i in sample:
                word, *values = line.rstrip("\n").split(" ")
                assert vectors.words[i] == word
                source = np.array(values, dtype=np.float32)
                np.testing.assert_array_equal(vectors.vectors[i], source.astype(np.float16))
                np.testing.assert_allclose(vectors.vectors[i], source, rtol=1e-3, atol=1e-4)
