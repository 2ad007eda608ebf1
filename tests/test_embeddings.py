"""Tests of rnnkit.embeddings: GloVe / word2vec text and binary files written here, alignment."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.embeddings import (
    WordVectors,
    build_embedding_matrix,
    cosine_similarity,
    embedding_layer,
    load_vectors,
)
from rnnkit.errors import ArgumentTypeError, DataError, InvalidArgumentError

GLOVE = Path(__file__).resolve().parents[1].parent / "shared/data/glove/glove.6B.50d.100k.txt.gz"
WORDS = ["the", "King", "queen", "café", "apple", "banana"]


@pytest.fixture
def table() -> np.ndarray:
    """The vectors the test files hold: (6, 5) float32 with exactly representable values."""
    rng = np.random.default_rng(0)
    return (rng.integers(-64, 64, size=(len(WORDS), 5)) / 16).astype(np.float32)


def glove_text(table: np.ndarray) -> str:
    return "".join(
        w + " " + " ".join(repr(float(x)) for x in row) + "\n"
        for w, row in zip(WORDS, table, strict=True)
    )


def write(path: Path, data: str | bytes) -> Path:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def word2vec_binary(table: np.ndarray, newline: bool = True) -> bytes:
    """word2vec's binary format: b"N D\\n", then per word b"word " + D float32 LE (+ b"\\n")."""
    out = [f"{len(WORDS)} {table.shape[1]}\n".encode()]
    for word, row in zip(WORDS, table, strict=True):
        out.append(word.encode() + b" " + row.astype("<f4").tobytes() + (b"\n" if newline else b""))
    return b"".join(out)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("v.txt", "glove"),
        ("v.txt.gz", "glove"),
        ("v.vec", "word2vec"),
        ("v.bin", "binary"),
        ("v.bin.gz", "binary"),
        ("n.bin", "binary-no-newline"),
    ],
)
def test_every_format_reads_the_exact_vectors(
    tmp_path: Path, table: np.ndarray, name: str, kind: str
) -> None:
    if kind == "glove":
        data: str | bytes = glove_text(table)
    elif kind == "word2vec":
        data = f"{len(WORDS)} 5\n" + glove_text(table).replace("\n", " \n")  # trailing spaces
    else:
        data = word2vec_binary(table, newline=kind == "binary")
    vectors = load_vectors(write(tmp_path / name, data))
    assert vectors.words == WORDS and vectors.dim == 5 and len(vectors) == 6
    assert vectors.vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors.vectors, table)
    assert vectors.index["café"] == 3
    np.testing.assert_array_equal(vectors["queen"], table[2])


def test_vocab_limit_and_lowercase(tmp_path: Path, table: np.ndarray) -> None:
    path = write(tmp_path / "v.txt", glove_text(table))
    kept = load_vectors(path, vocab=["queen", "APPLE", "missing"])
    assert kept.words == ["queen", "apple"]  # "apple" kept for the lowercase form of "APPLE"
    np.testing.assert_array_equal(kept.vectors, table[[2, 4]])
    assert load_vectors(path, limit=2).words == ["the", "King"]
    lowered = load_vectors(path, lowercase=True, vocab=["king"])
    assert lowered.words == ["king"]
    np.testing.assert_array_equal(lowered.vectors, table[[1]])
    assert load_vectors(path, vocab=["nothing"]).vectors.shape == (0, 5)
    binary = write(tmp_path / "v.bin", word2vec_binary(table))
    assert load_vectors(binary, vocab=["banana", "the"], limit=5).words == ["the"]


def test_dimension_change_mid_file_names_the_line(tmp_path: Path, table: np.ndarray) -> None:
    lines = glove_text(table).splitlines(keepends=True)
    lines[3] = "café 1.0 2.0 3.0\n"
    with pytest.raises(
        DataError, match=r"v\.txt\.gz:4: 3 values after the word; expected 5 like line 1"
    ):
        load_vectors(write(tmp_path / "v.txt.gz", "".join(lines)))
    header = "6 4\n" + glove_text(table)
    with pytest.raises(DataError, match=r"w\.vec:2: 5 values.*expected 4 like the header"):
        load_vectors(write(tmp_path / "w.vec", header))
    lines[3] = "café 1.0 2.0 x 4.0 5.0\n"
    with pytest.raises(DataError, match=r"b\.txt:4: .*'x'.*expected numbers"):
        load_vectors(write(tmp_path / "b.txt", "".join(lines)))


def test_broken_files(tmp_path: Path, table: np.ndarray) -> None:
    with pytest.raises(DataError, match="no vectors"):
        load_vectors(write(tmp_path / "empty.txt", "\n"))
    with pytest.raises(DataError, match="does not exist"):
        load_vectors(tmp_path / "absent.txt")
    truncated = word2vec_binary(table)[:-10]
    with pytest.raises(DataError, match=r"t\.bin: ends inside vector 6"):
        load_vectors(write(tmp_path / "t.bin", truncated))
    with pytest.raises(DataError, match=r"l\.txt:2: bytes b'\\xff"):
        load_vectors(write(tmp_path / "l.txt", b"a 1 2\n\xff 3 4\n"))
    with pytest.raises(InvalidArgumentError, match="format='fasttext'"):
        load_vectors(tmp_path / "l.txt", format="fasttext")


def test_embedding_matrix_rows_and_coverage(tmp_path: Path, table: np.ndarray) -> None:
    vectors = load_vectors(write(tmp_path / "v.txt", glove_text(table)))
    tokens = ["<pad>", "<unk>", "the", "king", "Queen", "zebra", "banana", "the2"]
    matrix, coverage = build_embedding_matrix(vectors, tokens, pad_id=0, seed=1)
    assert matrix.shape == (8, 5) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], 0)  # the padding row
    np.testing.assert_array_equal(matrix[[2, 6]], table[[0, 5]])  # exact matches
    np.testing.assert_array_equal(matrix[4], table[2])  # "Queen" found as "queen"
    assert (coverage.found, coverage.missing, coverage.lowercased) == (3, 4, 1)
    assert coverage.missing_examples == ["<unk>", "king", "zebra", "the2"]  # "King" != "king"
    assert coverage.fraction == pytest.approx(3 / 7)
    assert coverage.summary() == (
        "embeddings: 3 of 7 tokens found (42.9%, 1 via lowercase); 4 missing, e.g. <unk> king zebra the2"
    )
    again, _ = build_embedding_matrix(vectors, tokens, pad_id=0, seed=1)
    other, _ = build_embedding_matrix(vectors, tokens, pad_id=0, seed=2)
    np.testing.assert_array_equal(again, matrix)
    assert not np.array_equal(other[1], matrix[1])
    zeros, _ = build_embedding_matrix(vectors, tokens, pad_id=None, init="zeros")
    np.testing.assert_array_equal(zeros[[1, 3, 5, 7]], 0)


def test_the_unknown_token_starts_as_the_average_found_word(tmp_path: Path, table: np.ndarray) -> None:
    """Never trained on small data, a random <unk> would tilt every text with an unseen word."""
    vectors = load_vectors(write(tmp_path / "v.txt", glove_text(table)))
    tokens = ["<pad>", "<unk>", "the", "queen", "zebra"]
    for seed in (0, 1, 2):
        matrix, _ = build_embedding_matrix(vectors, tokens, seed=seed, unk_id=1)
        np.testing.assert_allclose(matrix[1], table[[0, 2]].mean(axis=0), rtol=1e-6)
        assert not np.allclose(matrix[4], matrix[1])  # other missing words are still drawn


def test_missing_rows_match_the_found_statistics() -> None:
    rng = np.random.default_rng(0)
    table = (rng.standard_normal((2000, 8)) * 0.5 + 3).astype(np.float32)
    vectors = WordVectors([f"w{i}" for i in range(2000)], table)
    tokens = [f"w{i}" for i in range(2000)] + [f"new{i}" for i in range(4000)]
    matrix, coverage = build_embedding_matrix(vectors, tokens, pad_id=None, seed=0)
    drawn = matrix[2000:]
    assert coverage.found == 2000 and coverage.missing == 4000
    np.testing.assert_allclose(drawn.mean(axis=0), table.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(drawn.std(axis=0), table.std(axis=0), rtol=0.1)
    with pytest.raises(DataError, match="no token of the vocabulary"):
        build_embedding_matrix(vectors, ["<pad>", "x"])


def test_cosine_and_most_similar_against_numpy() -> None:
    rng = np.random.default_rng(1)
    table = rng.standard_normal((50, 6)).astype(np.float32)
    vectors = WordVectors([f"w{i}" for i in range(50)], table)
    a, b = table[3].astype(np.float64), table[7].astype(np.float64)
    expected = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert cosine_similarity(table[3], table[7]) == pytest.approx(expected, rel=1e-6)
    assert vectors.similarity("w3", "W7") == pytest.approx(expected, rel=1e-6)  # lowercase lookup
    assert cosine_similarity(np.zeros(6), table[0]) == 0.0
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    cos = unit @ unit[3]
    order = [i for i in np.argsort(-cos) if i != 3][:5]
    got = vectors.most_similar("w3", top=5)
    assert [w for w, _ in got] == [f"w{i}" for i in order]
    np.testing.assert_allclose([c for _, c in got], cos[order], rtol=1e-5)
    assert len(vectors.most_similar("w3", top=100)) == 49
    many = WordVectors([f"v{i}" for i in range(3000)], rng.standard_normal((3000, 4)))
    ranked = [c for _, c in many.most_similar("v0", top=300)]
    assert ranked == sorted(ranked, reverse=True) and "v0" not in dict(many.most_similar("v0"))
    with pytest.raises(InvalidArgumentError, match=r"word='w333'.*50 words.*close: w33"):
        vectors.most_similar("w333")
    with pytest.raises(InvalidArgumentError, match=r"b=.*shape"):
        cosine_similarity(table[0], table[0][:3])


def test_embedding_layer_freezes_or_trains(table: np.ndarray) -> None:
    frozen = embedding_layer(table, freeze=True, padding_idx=0)
    assert isinstance(frozen, torch.nn.Embedding) and not frozen.weight.requires_grad
    torch.testing.assert_close(frozen(torch.tensor([2])), torch.from_numpy(table[[2]]))
    trained = embedding_layer(table, freeze=False, padding_idx=0)
    assert trained.weight.requires_grad and trained.padding_idx == 0


@pytest.mark.skipif(not GLOVE.exists(), reason="shared GloVe vectors absent")
def test_real_glove_loads_fast_and_has_sane_neighbours() -> None:
    # CPU seconds of this process, not wall time: other jobs on a shared machine do not count.
    # About 1.5 s when idle; 10 s still catches a per-line slowdown of a few times.
    start = time.process_time()
    vectors = load_vectors(GLOVE)
    seconds = time.process_time() - start
    assert vectors.vectors.shape == (100_000, 50) and seconds < 10, seconds
    with gzip.open(GLOVE, "rt", encoding="utf-8") as f:
        first = f.readline().split()
    assert vectors.words[0] == first[0] == "the"
    np.testing.assert_array_equal(vectors["the"], np.array(first[1:], dtype=np.float32))
    neighbours = [w for w, _ in vectors.most_similar("rome", top=10)]
    assert {"paris", "italy", "naples"} & set(neighbours), neighbours
    assert vectors.similarity("king", "queen") > vectors.similarity("king", "banana") + 0.3


# ---- a word2vec header that disagrees with the file, words listed twice ----
@pytest.mark.parametrize(
    ("name", "data", "pattern"),
    [
        ("fewer.vec", "3 2\nfine 1 0\nfilm 0 1\n", r"fewer\.vec:1: header '3 2' announces N=3 vectors; the file has 2 vector lines"),
        ("more.vec", "1 2\nfine 1 0\nfilm 0 1\n", r"more\.vec:1: header '1 2' announces N=1 vectors; the file has 2"),
        ("more.bin", b"1 2\nfine " + np.ones(2, "<f4").tobytes() + b"\nfilm " + np.ones(2, "<f4").tobytes() + b"\n",
         r"more\.bin:1: header '1 2' announces N=1 vectors; the file goes on after vector N"),
    ],
)  # fmt: skip
def test_a_word2vec_header_must_count_the_vectors(tmp_path: Path, name, data, pattern) -> None:
    with pytest.raises(DataError, match=pattern):
        load_vectors(write(tmp_path / name, data))
    assert load_vectors(tmp_path / name, limit=1).words == ["fine"]  # a limit stops the read first


def test_the_header_count_of_a_whole_file_passes(tmp_path: Path, table: np.ndarray) -> None:
    assert load_vectors(write(tmp_path / "v.bin", word2vec_binary(table))).words == WORDS
    text = f"{len(WORDS)} 5\n" + glove_text(table) + "\n"  # a blank last line is no vector
    assert load_vectors(write(tmp_path / "v.vec", text)).words == WORDS


@pytest.mark.parametrize(
    ("name", "data", "pattern"),
    [
        ("dup.txt", "fine 1 1\nfilm 0 1\nfine 2 2\n", r"dup\.txt:3: word 'fine' again \(first at line 1\); expected each word once"),
        ("dup.vec", "3 2\nfine 1 1\nfilm 0 1\nfine 2 2\n", r"dup\.vec:4: word 'fine' again \(first at line 2\)"),
        ("dup.bin", b"2 2\nfine " + np.ones(2, "<f4").tobytes() + b"\nfine " + np.zeros(2, "<f4").tobytes() + b"\n",
         r"dup\.bin: vector 2: word 'fine' again \(first at vector 1\)"),
    ],
)  # fmt: skip
def test_a_word_listed_twice_is_refused_or_its_first_vector_kept(tmp_path: Path, name, data, pattern, caplog) -> None:
    with pytest.raises(DataError, match=pattern):
        load_vectors(write(tmp_path / name, data))
    first = load_vectors(tmp_path / name, duplicates="first")
    np.testing.assert_array_equal(first["fine"], np.ones(2))
    assert "the first is kept" in caplog.text
    assert load_vectors(tmp_path / name, vocab=["film"], duplicates="error").words in (["film"], [])
    with pytest.raises(InvalidArgumentError, match=r"^duplicates='last': expected one of error, first"):
        load_vectors(tmp_path / name, duplicates="last")


def test_words_equal_once_lowercased_keep_the_first_and_word_vectors_refuse_twins(tmp_path: Path) -> None:
    vectors = load_vectors(write(tmp_path / "case.txt", "Fine 1 0\nfine 0 1\n"), lowercase=True)
    assert vectors.words == ["fine"] and vectors["fine"].tolist() == [1, 0]
    with pytest.raises(InvalidArgumentError, match=r"^words='a': expected each word once"):
        WordVectors(["a", "b", "a"], np.zeros((3, 2)))


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [
        (lambda: WordVectors("ab", np.zeros((2, 3))), ArgumentTypeError, r"^words='ab': expected a list of str words"),
        (lambda: WordVectors(["a"], np.array([["x", "y"]], dtype=object)), InvalidArgumentError, r"^vectors='ndarray': expected an array of numbers"),
        (lambda: WordVectors(["a"], np.full((1, 3), np.nan)), InvalidArgumentError, r"^vectors=.*NaN or infinity"),
        (lambda: WordVectors(["a", "b"], np.ones((2, 3)))[0], ArgumentTypeError, r"^word=0: expected a str"),
        (lambda: WordVectors(["a", "b"], np.ones((2, 3))).similarity("a", None), ArgumentTypeError, r"^word=None: expected a str"),
        (lambda: cosine_similarity(np.array([np.nan, 1.0]), np.ones(2)), InvalidArgumentError, r"^a=.*NaN or infinity"),
        (lambda: build_embedding_matrix(WordVectors(["a"], np.ones((1, 3))), "abc"), ArgumentTypeError, r"^tokens='abc': expected a list of str tokens"),
        (lambda: build_embedding_matrix(WordVectors(["a"], np.ones((1, 3))), ["<pad>", "a"], seed=-1), InvalidArgumentError, r"^seed=-1: expected an int in \[0, "),
        (lambda: embedding_layer(np.ones((2, 3), np.float32), padding_idx=5), InvalidArgumentError, r"^padding_idx=5: expected None or a row -2\.\.1"),
        (lambda: embedding_layer(np.full((2, 3), np.inf, np.float32)), InvalidArgumentError, r"^matrix=.*NaN or infinity"),
        (lambda: embedding_layer(np.ones(3, np.float32)), InvalidArgumentError, r"^matrix=\(3,\): expected a 2-D array"),
    ],
)  # fmt: skip
def test_word_vector_helpers_refuse_bad_arguments(make, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        make()
    assert "a" not in WordVectors(["b"], np.ones((1, 2))) and 5 not in WordVectors(["b"], np.ones((1, 2)))
