"""Tests for rnnkit.text.vectorizer and rnnkit.text.padding."""

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rnnkit.errors import DataError, InvalidArgumentError, RnnkitError
from rnnkit.text import (
    BOS,
    EOS,
    PAD,
    UNK,
    TextVectorizer,
    WordTokenizer,
    lower_and_strip_punctuation,
    pad_sequences,
)

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "A cat, a dog."]


# -- pad_sequences -------------------------------------------------------------------------
def test_pad_sequences_post_and_pre():
    seqs = [[5, 6, 7, 8], [5, 6], []]
    ids, lengths = pad_sequences(seqs, 3)
    assert ids == [[5, 6, 7], [5, 6, 0], [0, 0, 0]]
    assert lengths == [3, 2, 0]
    ids, _ = pad_sequences(seqs, 3, padding="pre", truncating="pre", value=9)
    assert ids == [[6, 7, 8], [9, 5, 6], [9, 9, 9]]


def test_pad_sequences_to_longest_by_default():
    ids, lengths = pad_sequences([(1,), (2, 3, 4)])
    assert ids == [[1, 0, 0], [2, 3, 4]]
    assert lengths == [1, 3]
    assert pad_sequences([]) == ([], [])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"maxlen": 0}, r"maxlen=0: expected an int >= 1 or None"),
        ({"padding": "both"}, r"padding='both': expected 'post' or 'pre'"),
        ({"truncating": None}, r"truncating=None: expected 'post' or 'pre'"),
        ({"value": 0.5}, r"value=0\.5: expected an int"),
    ],
)
def test_pad_sequences_bad_arguments(kwargs, pattern):
    with pytest.raises(InvalidArgumentError, match=pattern):
        pad_sequences([[1]], **kwargs)


# -- adapt / encode / decode ---------------------------------------------------------------
def test_word_vectorizer_end_to_end():
    vec = TextVectorizer("word").adapt(TEXTS)
    # counts: the 3, a 2, cat 2, dog 2, then 1 each in string order
    assert vec.vocab.tokens[:4] == ("the", "a", "cat", "dog")
    assert vec.vocab_size == 2 + 10
    assert vec.encode("The CAT and the zebra") == [2, 4, 1, 2, 1]
    assert vec.decode(vec.encode("The CAT and the zebra")) == "the cat <unk> the <unk>"


def test_char_round_trip_exact_on_adapted_text():
    text = "Hello, wörld! 日本語\n\tend 🙂"
    vec = TextVectorizer("char").adapt([text])
    ids = vec.encode(text)
    assert len(ids) == len(text)
    assert vec.decode(ids) == text
    assert vec.decode(vec.encode("Hex?")) == "He<unk><unk>"


@given(st.text(min_size=1))
def test_char_round_trip_any_unicode(text):
    vec = TextVectorizer("char").adapt([text])
    assert vec.decode(vec.encode(text)) == text
    assert 1 not in vec.encode(text)


@given(st.text(min_size=1), st.text())
def test_char_unknown_chars_become_unk(train, other):
    vec = TextVectorizer("char").adapt([train])
    expected = "".join(c if c in set(train) else UNK for c in other)
    assert vec.decode(vec.encode(other)) == expected


@given(st.lists(st.text(), min_size=1), st.text())
def test_word_round_trip_up_to_unknown(texts, probe):
    tokenizer = WordTokenizer()
    assume(any(tokenizer.tokenize(t) for t in texts))
    vec = TextVectorizer(tokenizer).adapt(texts)
    known = {t for text in texts for t in tokenizer.tokenize(text)}
    expected = [t if t in known else UNK for t in lower_and_strip_punctuation(probe).split()]
    assume(PAD not in expected)  # a literal "<pad>" in the text is the padding token
    assert vec.decode(vec.encode(probe)) == " ".join(expected)


def test_whitespace_and_word_punct_vectorizers():
    vec = TextVectorizer("whitespace").adapt(["Hi, there.  Hi!"])
    assert vec.vocab.tokens == ("Hi!", "Hi,", "there.")
    assert vec.decode(vec.encode("Hi, Hi,\nthere.")) == "Hi, Hi, there."
    vec = TextVectorizer("word_punct").adapt(["Hi, there. Hi!"])
    assert vec.vocab.tokens == ("Hi", "!", ",", ".", "there")


def test_output_sequence_length_post_and_pre():
    vec = TextVectorizer("char", output_sequence_length=4).adapt(["abcdef"])
    a, b, c, d, e, f = vec.vocab.lookup_ids("abcdef")
    assert vec.encode("abcdef") == [a, b, c, d]
    assert vec.encode("ab") == [a, b, 0, 0]
    pre = TextVectorizer("char", output_sequence_length=4, padding="pre", truncating="pre")
    pre.adapt(["abcdef"])
    assert pre.encode("abcdef") == [c, d, e, f]
    assert pre.encode("ab") == [0, 0, a, b]
    assert pre.decode(pre.encode("ab")) == "ab"
    assert pre.decode(pre.encode("ab"), skip_special=False) == "<pad><pad>ab"


def test_encode_batch_lengths():
    vec = TextVectorizer("word").adapt(TEXTS)
    ids, lengths = vec.encode_batch(["the cat", "", "a dog ate the cat"], return_lengths=True)
    assert lengths == [2, 0, 5]
    assert ids == [[2, 4, 0, 0, 0], [0, 0, 0, 0, 0], [3, 5, 6, 2, 4]]
    assert vec.encode_batch(["the cat"]) == [[2, 4]]
    fixed = TextVectorizer("word", output_sequence_length=3).adapt(TEXTS)
    assert fixed.encode_batch(["a dog ate the cat", "cat"], return_lengths=True) == (
        [[3, 5, 6], [4, 0, 0]],
        [3, 1],
    )


def test_max_tokens_and_min_freq():
    vec = TextVectorizer("word", max_tokens=4).adapt(TEXTS)
    assert vec.vocab_size == 4
    assert vec.vocab.tokens == ("the", "a")
    assert vec.encode("the cat") == [2, 1]
    vec = TextVectorizer("word", min_freq=2).adapt(TEXTS)
    assert vec.vocab.tokens == ("the", "a", "cat", "dog")


def test_specials_and_decode_skips_them():
    vec = TextVectorizer("word", specials=[BOS, EOS]).adapt(TEXTS)
    bos, eos = vec.vocab.bos_id, vec.vocab.eos_id
    assert (bos, eos) == (2, 3)
    ids = [bos, *vec.encode("the cat zzz"), eos, 0]
    assert vec.decode(ids) == "the cat <unk>"
    assert vec.decode(ids, skip_special=False) == "<bos> the cat <unk> <eos> <pad>"


# -- save / load ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "vec",
    [
        TextVectorizer("char"),
        TextVectorizer("word", max_tokens=8, min_freq=1, specials=[EOS]),
        TextVectorizer(WordTokenizer("lower"), output_sequence_length=6, padding="pre"),
        TextVectorizer("word_punct", truncating="pre", output_sequence_length=3),
    ],
)
def test_save_load_gives_identical_encodings(vec, tmp_path):
    vec.adapt([*TEXTS, "Ünïcödé ✓ text"])
    path = tmp_path / "vocab.json"
    vec.save(path)
    loaded = TextVectorizer.load(path)
    assert loaded.to_dict() == vec.to_dict()
    assert loaded.vocab == vec.vocab
    assert loaded.tokenizer == vec.tokenizer
    probes = [*TEXTS, "unseen words here", "Ünïcödé", ""]
    assert loaded.encode_batch(probes) == vec.encode_batch(probes)
    assert [loaded.decode(loaded.encode(p)) for p in probes] == [
        vec.decode(vec.encode(p)) for p in probes
    ]


def test_json_form():
    data = TextVectorizer("word", max_tokens=5).adapt(["b a b"]).to_dict()
    assert json.loads(json.dumps(data)) == {
        "format": "rnnkit.text_vectorizer",
        "version": 1,
        "tokenizer": {"kind": "word", "standardize": "lower_and_strip_punctuation"},
        "max_tokens": 5,
        "min_freq": 1,
        "output_sequence_length": None,
        "padding": "post",
        "truncating": "post",
        "specials": [],
        "vocabulary": {"specials": ["<pad>", "<unk>"], "tokens": ["b", "a"]},
    }


def test_unadapted_round_trip_and_errors(tmp_path):
    vec = TextVectorizer("char", max_tokens=50)
    again = TextVectorizer.from_dict(vec.to_dict())
    assert not again.is_adapted and again.max_tokens == 50
    with pytest.raises(RnnkitError, match=r"no vocabulary yet: call adapt\(texts\)"):
        vec.encode("abc")
    with pytest.raises(RnnkitError, match=r"no vocabulary yet"):
        _ = vec.vocab_size
    assert vec.adapt(["abc"]) is vec and vec.is_adapted


def test_load_rejects_bad_files(tmp_path):
    path = tmp_path / "vocab.json"
    good = TextVectorizer("char").adapt(["ab"]).to_dict()
    cases = [
        ({**good, "format": "other"}, r"format='other': expected 'rnnkit.text_vectorizer'"),
        ({**good, "version": 2}, r"version=2: expected 1"),
        ({**good, "extra": 1}, r"unknown \['extra'\]"),
        ({**good, "min_freq": 0}, r"min_freq=0: expected an int >= 1"),
        ({**good, "specials": [EOS]}, r"vocabulary specials=\['<pad>', '<unk>'\]: expected"),
        ({**good, "tokenizer": {"kind": "word", "standardize": "x"}}, r"standardize='x'"),
    ]
    for data, pattern in cases:
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(DataError, match=r"vocab\.json: .*" + pattern):
            TextVectorizer.load(path)


def test_callable_standardize_refuses_to_save(tmp_path):
    vec = TextVectorizer(WordTokenizer(str.upper)).adapt(TEXTS)
    assert vec.encode("THE") == vec.encode("the")
    with pytest.raises(InvalidArgumentError, match=r"standardize=.*cannot be serialised"):
        vec.save(tmp_path / "vocab.json")


# -- bad arguments and empty data ----------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"tokenizer": "sentencepiece"}, r"tokenizer='sentencepiece': expected one of"),
        ({"max_tokens": 1}, r"max_tokens=1: expected an int >= 3 or None"),
        ({"min_freq": -1}, r"min_freq=-1: expected an int >= 1"),
        ({"output_sequence_length": 0}, r"output_sequence_length=0: expected an int >= 1"),
        ({"padding": "left"}, r"padding='left': expected 'post' or 'pre'"),
        ({"truncating": "right"}, r"truncating='right': expected 'post' or 'pre'"),
        ({"specials": [UNK]}, r"specials=\['<unk>'\]: expected distinct"),
    ],
)
def test_bad_constructor_arguments(kwargs, pattern):
    with pytest.raises(InvalidArgumentError, match=pattern):
        TextVectorizer(**kwargs)


def test_bad_inputs():
    vec = TextVectorizer("word").adapt(TEXTS)
    with pytest.raises(InvalidArgumentError, match=r"texts='one text': expected an iterable"):
        vec.adapt("one text")
    with pytest.raises(InvalidArgumentError, match=r"texts\[1\]=3: expected a str"):
        vec.encode_batch(["ok", 3])
    with pytest.raises(InvalidArgumentError, match=r"text=\['a'\]: expected a str"):
        vec.encode(["a"])
    with pytest.raises(InvalidArgumentError, match=r"ids=99: expected token ids"):
        vec.decode([2, 99])


@pytest.mark.parametrize("texts", [[], [""], ["  ", "!!!"]])
def test_adapt_on_empty_input_raises(texts):
    with pytest.raises(DataError, match=r"no tokens found"):
        TextVectorizer("word").adapt(texts)


def test_adapt_with_nothing_frequent_enough_raises():
    with pytest.raises(DataError, match=r"no token occurs min_freq=3 times"):
        TextVectorizer("word", min_freq=3).adapt(["a b a"])
