"""Bad input to rnnkit.text: an rnnkit error naming the argument, the value and what was
expected (ArgumentTypeError, also a TypeError, for a wrong type), never a bare TypeError,
AttributeError, StopIteration or an OSError from pathlib."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from rnnkit.errors import ArgumentTypeError, DataError, InvalidArgumentError
from rnnkit.text import (
    CharTokenizer,
    TextVectorizer,
    Vocabulary,
    WhitespaceTokenizer,
    WordPunctTokenizer,
    WordTokenizer,
    lower_and_strip_punctuation,
    pad_sequences,
    strip_punctuation,
)
from rnnkit.text.glove import glove_standardize

VOCAB = Vocabulary(["a", "b"])


# ---- pad_sequences ----
@pytest.mark.parametrize(
    ("sequences", "pattern"),
    [
        ([[None], ["a"], [1.5]], r"^sequences\[0\]\[0\]=None: expected an int"),
        ([[1, 2], [3, "a"]], r"^sequences\[1\]\[1\]='a': expected an int"),
        ([[1, 2.0]], r"^sequences\[0\]\[1\]=2\.0: expected an int"),
        ([[True, 1.5]], r"^sequences\[0\]\[1\]=1\.5: expected an int"),
        ([[1, 2], [np.int64(3), np.float32(4)]], r"^sequences\[1\]\[1\]=np\.float32\(4\.0\): expected an int"),
        ([[1], [torch.tensor(0.5)]], r"^sequences\[1\]\[0\]=tensor\(0\.5000\): expected an int"),
        ("abc", r"^sequences='abc': expected B sequences of ints"),
        (5, r"^sequences=5: expected B sequences of ints"),
        ([5], r"^sequences\[0\]=5: expected a sequence of ints"),
        ([[1], "ab"], r"^sequences\[1\]='ab': expected a sequence of ints"),
    ],
)
def test_pad_sequences_refuses_what_is_not_sequences_of_ints(sequences, pattern) -> None:
    with pytest.raises(ArgumentTypeError, match=pattern):
        pad_sequences(sequences)


def test_pad_sequences_takes_numpy_and_tensor_ids_as_ints() -> None:
    expected = ([[1, 2, 0], [3, 4, 0]], [2, 2])
    assert pad_sequences(np.array([[1, 2], [3, 4]]), 3) == expected
    assert pad_sequences(torch.tensor([[1, 2], [3, 4]]), 3) == expected
    assert pad_sequences(iter([(1, 2), np.array([3, 4], dtype=np.int32)]), 3) == expected
    assert all(type(i) is int for row in pad_sequences(np.array([[1, 2]]))[0] for i in row)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_pad_sequences_value_must_fit_int64(value) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^value={value}: expected an int in \["):
        pad_sequences([[1]], 2, value=value)
    assert pad_sequences([[1]], 2, value=2**63 - 1)[0] == [[1, 2**63 - 1]]


# ---- Vocabulary ----
@pytest.mark.parametrize(
    ("build", "error", "pattern"),
    [
        (lambda: Vocabulary(5), ArgumentTypeError, r"^tokens=5: expected an iterable of token strings"),
        (lambda: Vocabulary("ab"), ArgumentTypeError, r"^tokens='ab': expected an iterable of token strings"),
        (lambda: Vocabulary.from_counts({"a": "3"}), ArgumentTypeError, r"^counts\['a'\]='3': expected an int >= 0"),
        (lambda: Vocabulary.from_counts(["a"]), ArgumentTypeError, r"^counts=\['a'\]: expected a mapping \{token: count\}"),
        (lambda: Vocabulary.from_counts({"a": 2, "b": -1}), InvalidArgumentError, r"^counts\['b'\]=-1: expected an int >= 0"),
        (lambda: Vocabulary.from_counts({"a": math.nan}), ArgumentTypeError, r"^counts\['a'\]=nan: expected an int >= 0"),
        (lambda: Vocabulary.from_counts({"a": 1.0}), ArgumentTypeError, r"^counts\['a'\]=1\.0: expected an int >= 0"),
        (lambda: Vocabulary.from_counts({"a": True}), ArgumentTypeError, r"^counts\['a'\]=True"),
        (lambda: Vocabulary.from_counts({1: 2, "a": 2}), ArgumentTypeError, r"^token=1: expected a str"),
        (lambda: Vocabulary.from_sequences(5), ArgumentTypeError, r"^sequences=5: expected an iterable"),
        (lambda: Vocabulary.from_sequences([["a"], 5]), ArgumentTypeError, r"^sequences\[1\]=5: expected a sequence"),
    ],
)  # fmt: skip
def test_vocabulary_refuses_bad_tokens_and_counts(build, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        build()


def test_counts_of_numpy_ints_and_zero_are_fine() -> None:
    vocab = Vocabulary.from_counts({"a": np.int64(3), "b": 0, "c": 1})
    assert vocab.tokens == ("a", "c")


@pytest.mark.parametrize(
    ("lookup", "pattern"),
    [
        (lambda: VOCAB.token_to_id(["a"]), r"^token=\['a'\]: expected a str"),
        (lambda: VOCAB.token_to_id(2), r"^token=2: expected a str"),
        (lambda: VOCAB.lookup_ids(5), r"^tokens=5: expected an iterable of str tokens"),
        (lambda: VOCAB.lookup_ids([2, 3]), r"^tokens\[0\]=2: expected a str token"),
        (lambda: VOCAB.lookup_ids(["a", ["b"]]), r"^tokens\[1\]=\['b'\]: expected a str token"),
        (lambda: VOCAB.lookup_tokens(5), r"^ids=5: expected an iterable of token ids"),
        (lambda: VOCAB.lookup_tokens("ab"), r"^ids='ab': expected an iterable of token ids"),
        (lambda: VOCAB.lookup_tokens(torch.tensor([[1, 2]])), r"^ids=tensor\(\[1, 2\]\): expected token ids that are ints in 0\.\.3"),
        (lambda: VOCAB.lookup_tokens([torch.tensor(1.5)]), r"^ids=tensor\(1\.5000\): expected token ids"),
        (lambda: VOCAB.lookup_tokens([2, 3.0]), r"^ids=3\.0: expected token ids"),
        (lambda: VOCAB.id_to_token(None), r"^ids=None: expected token ids"),
    ],
)  # fmt: skip
def test_lookups_name_the_bad_token_or_id(lookup, pattern) -> None:
    with pytest.raises(ArgumentTypeError, match=pattern):  # also a TypeError, as before
        lookup()


def test_lookups_of_good_input_unchanged() -> None:
    assert VOCAB.lookup_ids("ab") == [2, 3]  # a str: its characters
    assert VOCAB.lookup_ids(t for t in ["b", "zzz"]) == [3, 1]
    assert VOCAB.lookup_ids([]) == []
    assert VOCAB.lookup_tokens(torch.tensor([2, 3])) == ["a", "b"]
    with pytest.raises(InvalidArgumentError, match=r"^ids=4: expected token ids that are ints in 0\.\.3"):
        VOCAB.lookup_tokens([2, 4])


# ---- files ----
@pytest.fixture
def files(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "dir").mkdir()
    return tmp_path


@pytest.mark.parametrize("cls", [Vocabulary, TextVectorizer])
def test_load_names_the_file_problem(cls, files) -> None:
    with pytest.raises(DataError, match=r"^path '.*nope\.json': does not exist; expected a JSON file"):
        cls.load(files / "nope.json")
    with pytest.raises(DataError, match=r"^path '.*dir': is a directory; expected a JSON file"):
        cls.load(files / "dir")
    with pytest.raises(DataError, match=r"deep\.json: not a valid JSON file \(.*nested too deeply"):
        cls.load(files / "deep.json")
    with pytest.raises(ArgumentTypeError, match=r"^path=5: expected a str or os\.PathLike path"):
        cls.load(5)


def test_save_names_the_file_problem(files) -> None:
    vectorizer = TextVectorizer("word").adapt(["a b c"])
    for saved in (VOCAB, vectorizer):
        with pytest.raises(DataError, match=r"^path '.*dir': is a directory; expected a JSON file to write"):
            saved.save(files / "dir")
        with pytest.raises(ArgumentTypeError, match=r"^path=3\.5: expected a str or os\.PathLike"):
            saved.save(3.5)


# ---- TextVectorizer.decode ----
@pytest.mark.parametrize(
    ("ids", "pattern"),
    [
        (5, r"^ids=5: expected an iterable of token ids"),
        (torch.tensor([[2, 3]]), r"^ids=tensor\(\[2, 3\]\): expected token ids"),
        ([2, None], r"^ids=None: expected token ids"),
    ],
)
def test_decode_names_the_bad_id(ids, pattern) -> None:
    vectorizer = TextVectorizer("word").adapt(["a b c"])
    with pytest.raises(ArgumentTypeError, match=pattern):
        vectorizer.decode(ids)


# ---- tokenizers and standardizers ----
TOKENIZERS = [CharTokenizer(), WordTokenizer(), WordTokenizer("glove"), WordTokenizer("lower"),
              WordTokenizer(None), WhitespaceTokenizer(), WordPunctTokenizer(),
              WordPunctTokenizer(lower=True)]  # fmt: skip


@pytest.mark.parametrize("tokenizer", TOKENIZERS, ids=repr)
@pytest.mark.parametrize("text", [5, None, ["a b"]])
def test_tokenize_refuses_a_non_str(tokenizer, text) -> None:
    with pytest.raises(ArgumentTypeError, match=rf"^text={re.escape(repr(text))}: expected a str$"):
        tokenizer.tokenize(text)


@pytest.mark.parametrize("tokenizer", TOKENIZERS, ids=repr)
def test_tokenize_bytes_says_decode_first(tokenizer) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^text=b'x': expected a str; decode bytes first"):
        tokenizer.tokenize(b"x")


@pytest.mark.parametrize(
    "standardize", [strip_punctuation, lower_and_strip_punctuation, glove_standardize]
)
def test_standardizers_refuse_a_non_str(standardize) -> None:
    # glove.py stays standalone (the ONNX example copies it), so its error is a plain TypeError
    error = TypeError if standardize is glove_standardize else ArgumentTypeError
    with pytest.raises(error, match=r"^text=5: expected a str$"):
        standardize(5)


def test_a_callable_standardizer_must_return_a_str() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^standardize\(text\)=None: expected a str"):
        WordTokenizer(lambda text: None).tokenize("a b")


@pytest.mark.parametrize("tokenizer", [CharTokenizer(), WordTokenizer()], ids=repr)
def test_detokenize_names_the_non_str_token(tokenizer) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^tokens\[0\]=1: expected a str token"):
        tokenizer.detokenize([1, 2])
    with pytest.raises(ArgumentTypeError, match=r"^tokens\[1\]=None: expected a str token"):
        tokenizer.detokenize(("a", None))
    with pytest.raises(ArgumentTypeError, match=r"^tokens=5: expected an iterable of str tokens"):
        tokenizer.detokenize(5)
    assert tokenizer.detokenize(t for t in ["a", "b"]) in ("ab", "a b")


def test_a_padded_length_that_cannot_fit_in_memory_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^maxlen=1000000000000: expected a smaller length: 2 x "):
        pad_sequences([[1], [2]], maxlen=10**12)
    with pytest.raises(InvalidArgumentError, match=r"^output_sequence_length=1000000000000: expected a smaller"):
        TextVectorizer(output_sequence_length=10**12)
    assert len(pad_sequences([[1]], maxlen=1000)[0][0]) == 1000


def test_extend_refuses_a_bare_string() -> None:
    vectorizer = TextVectorizer("word").adapt(["a b"])
    with pytest.raises(ArgumentTypeError, match=r"^tokens='cd': expected an iterable of str tokens; wrap one"):
        vectorizer.extend("cd")
    assert vectorizer.extend(["cd"]) == 1
