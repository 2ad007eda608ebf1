"""Tests for rnnkit.text.tokenize: Keras-like standardisation, round trips, serialisation."""

import json
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.errors import DataError, InvalidArgumentError
from rnnkit.text import (
    CharTokenizer,
    WhitespaceTokenizer,
    WordPunctTokenizer,
    WordTokenizer,
    get_tokenizer,
    lower_and_strip_punctuation,
    strip_punctuation,
    tokenizer_from_dict,
)

# Keras TextVectorization's DEFAULT_STRIP_REGEX, copied as a reference.
KERAS_STRIP_REGEX = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def test_punctuation_set_is_exactly_keras_regex():
    every_char = "".join(map(chr, range(0x110000)))
    keras = set(re.findall(KERAS_STRIP_REGEX, every_char))
    assert keras == set(string.punctuation)
    assert len(keras) == 32


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("Don't stop-me now.", ["dont", "stopme", "now"]),  # apostrophe and hyphen deleted
        ("<br />Great film<br /><br />", ["br", "great", "filmbr", "br"]),
        ("  tabs\tand\nnewlines  ", ["tabs", "and", "newlines"]),
        ("ÉCOLE «quoted» café…", ["école", "«quoted»", "café…"]),  # only ASCII punctuation
        ("a.b,c", ["abc"]),
        ("!!! ???", []),
        ("", []),
    ],
)
def test_word_tokenizer_keras_examples(text, tokens):
    assert WordTokenizer().tokenize(text) == tokens


@given(st.text())
def test_strip_punctuation_matches_keras_regex(text):
    assert strip_punctuation(text) == re.sub(KERAS_STRIP_REGEX, "", text)
    assert lower_and_strip_punctuation(text) == re.sub(KERAS_STRIP_REGEX, "", text.lower())


def test_word_tokenizer_other_standardizations():
    text = "Don't SHOUT, ok?"
    assert WordTokenizer("lower").tokenize(text) == ["don't", "shout,", "ok?"]
    assert WordTokenizer("strip_punctuation").tokenize(text) == ["Dont", "SHOUT", "ok"]
    assert WordTokenizer(None).tokenize(text) == ["Don't", "SHOUT,", "ok?"]
    assert WordTokenizer("none") == WordTokenizer(None)
    assert WordTokenizer(str.upper).tokenize(text) == ["DON'T", "SHOUT,", "OK?"]


def test_word_punct_tokenizer():
    assert WordPunctTokenizer().tokenize("Hi, there! It's 3.5") == [
        "Hi", ",", "there", "!", "It", "'", "s", "3", ".", "5",
    ]  # fmt: skip
    assert WordPunctTokenizer(lower=True).tokenize("ÀB?") == ["àb", "?"]


@given(st.text())
def test_char_round_trip_is_exact(text):
    tokenizer = CharTokenizer()
    tokens = tokenizer.tokenize(text)
    assert len(tokens) == len(text)
    assert tokenizer.detokenize(tokens) == text


@given(st.text())
def test_whitespace_round_trip_normalises_spaces(text):
    tokenizer = WhitespaceTokenizer()
    tokens = tokenizer.tokenize(text)
    assert all(tokens) and not any(any(c.isspace() for c in t) for t in tokens)
    assert tokenizer.detokenize(tokens) == " ".join(text.split())


@given(st.text())
def test_word_punct_keeps_every_non_space_char(text):
    tokens = WordPunctTokenizer().tokenize(text)
    assert "".join(tokens) == "".join(text.split())


@pytest.mark.parametrize(
    "tokenizer",
    [
        CharTokenizer(),
        WhitespaceTokenizer(),
        WordTokenizer(),
        WordTokenizer("lower"),
        WordTokenizer(None),
        WordPunctTokenizer(lower=True),
    ],
)
def test_to_dict_round_trip_through_json(tokenizer):
    data = json.loads(json.dumps(tokenizer.to_dict()))
    assert data["kind"] == tokenizer.kind
    rebuilt = tokenizer_from_dict(data)
    assert rebuilt == tokenizer
    assert type(rebuilt) is type(tokenizer)
    assert rebuilt.tokenize("Oh, Hi Mark!") == tokenizer.tokenize("Oh, Hi Mark!")


def test_to_dict_shapes():
    assert CharTokenizer().to_dict() == {"kind": "char"}
    assert WordTokenizer().to_dict() == {
        "kind": "word",
        "standardize": "lower_and_strip_punctuation",
    }
    assert WordTokenizer("none").to_dict() == {"kind": "word", "standardize": None}


def test_callable_standardize_cannot_be_saved():
    tokenizer = WordTokenizer(str.upper)
    with pytest.raises(InvalidArgumentError, match=r"standardize=.*callable cannot be serialised"):
        tokenizer.to_dict()


def test_get_tokenizer():
    assert get_tokenizer("char") == CharTokenizer()
    assert get_tokenizer("word") == WordTokenizer()
    word = WordTokenizer("lower")
    assert get_tokenizer(word) is word
    with pytest.raises(InvalidArgumentError, match=r"tokenizer='bpe': expected one of 'char'"):
        get_tokenizer("bpe")


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match=r"standardize='upper': expected one of"):
        WordTokenizer("upper")
    with pytest.raises(InvalidArgumentError, match=r"lower=1: expected True or False"):
        WordPunctTokenizer(lower=1)
    with pytest.raises(DataError, match=r"kind='bpe'"):
        tokenizer_from_dict({"kind": "bpe"})
    with pytest.raises(DataError, match=r"unknown keys \['lowercase'\]"):
        tokenizer_from_dict({"kind": "word", "lowercase": True})
    with pytest.raises(DataError, match=r"kind='word': expected 'char'"):
        CharTokenizer.from_dict({"kind": "word"})
