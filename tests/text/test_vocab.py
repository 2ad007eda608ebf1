"""Tests for rnnkit.text.vocab: layout, limits, tie-breaking, lookups, JSON round trip."""

import json
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.errors import DataError, InvalidArgumentError
from rnnkit.text import BOS, EOS, PAD, UNK, Vocabulary


def test_layout_specials_first():
    vocab = Vocabulary(["a", "b"], specials=[BOS, EOS])
    assert list(vocab) == [PAD, UNK, BOS, EOS, "a", "b"]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert vocab.specials == (PAD, UNK, BOS, EOS)
    assert vocab.tokens == ("a", "b")
    assert len(vocab) == 6
    assert "a" in vocab and "<eos>" in vocab and "c" not in vocab


def test_default_has_only_pad_and_unk():
    vocab = Vocabulary(["x"])
    assert list(vocab) == [PAD, UNK, "x"]
    assert vocab.bos_id is None and vocab.eos_id is None


def test_order_by_descending_count_ties_by_token():
    counts = {"b": 2, "c": 5, "a": 2, "d": 1, "B": 2}
    vocab = Vocabulary.from_counts(counts)
    assert vocab.tokens == ("c", "B", "a", "b", "d")  # "B" < "a" < "b" by code point


def test_ties_do_not_depend_on_data_order():
    words = ["x"] * 3 + ["y"] * 3 + ["z"] * 3 + ["w"] * 5 + ["v"]
    orders = []
    for seed in range(5):
        random.Random(seed).shuffle(words)
        orders.append(Vocabulary.from_sequences([words]).tokens)
    assert orders == [("w", "x", "y", "z", "v")] * 5


def test_from_sequences_counts_every_sequence():
    vocab = Vocabulary.from_sequences([["a", "b"], ["b"], "bcc"])  # a string is a char sequence
    assert vocab.tokens == ("b", "c", "a")


def test_max_tokens_counts_the_specials():
    counts = Counter("aaaabbbccd")
    assert len(Vocabulary.from_counts(counts, max_tokens=4)) == 4
    assert Vocabulary.from_counts(counts, max_tokens=4).tokens == ("a", "b")
    vocab = Vocabulary.from_counts(counts, max_tokens=4, specials=[EOS])
    assert list(vocab) == [PAD, UNK, EOS, "a"]
    assert len(Vocabulary.from_counts(counts, max_tokens=100)) == 2 + 4


def test_min_freq():
    counts = Counter("aaaabbbccd")
    assert Vocabulary.from_counts(counts, min_freq=2).tokens == ("a", "b", "c")
    assert Vocabulary.from_counts(counts, min_freq=4).tokens == ("a",)
    assert Vocabulary.from_counts(counts, min_freq=5).tokens == ()
    assert Vocabulary.from_counts(counts, min_freq=2, max_tokens=3).tokens == ("a",)


def test_special_strings_in_data_are_not_counted():
    vocab = Vocabulary.from_counts({PAD: 9, "a": 1, EOS: 5}, specials=[EOS])
    assert list(vocab) == [PAD, UNK, EOS, "a"]
    assert vocab.token_to_id(PAD) == 0
    # without EOS as a special, "<eos>" is an ordinary token
    assert Vocabulary.from_counts({EOS: 5, "a": 1}).tokens == (EOS, "a")
    assert Vocabulary.from_counts({EOS: 5, "a": 1}).eos_id is None


def test_lookups_and_unknown():
    vocab = Vocabulary(["the", "cat"])
    assert vocab.lookup_ids(["the", "dog", "cat", ""]) == [2, 1, 3, 1]
    assert vocab.token_to_id("dog") == vocab.unk_id == 1
    assert vocab.lookup_tokens([3, 2, 0, 1]) == ["cat", "the", PAD, UNK]
    assert vocab.id_to_token(3) == "cat"
    assert vocab.lookup_tokens([]) == []


@pytest.mark.parametrize("bad", [-1, 4, 2.0, "2"])
def test_lookup_tokens_rejects_bad_ids(bad):
    vocab = Vocabulary(["the", "cat"])
    with pytest.raises(
        InvalidArgumentError, match=r"ids=.*: expected token ids that are ints in 0\.\.3"
    ):
        vocab.lookup_tokens([2, bad])


@given(st.dictionaries(st.text(), st.integers(1, 50)), st.lists(st.text()))
def test_json_round_trip_and_ids_are_consistent(counts, probe):
    vocab = Vocabulary.from_counts(counts, specials=[BOS])
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab
    assert again.lookup_ids(probe) == vocab.lookup_ids(probe)
    for i, token in enumerate(vocab):
        assert vocab.token_to_id(token) == i and vocab.id_to_token(i) == token
    known = [t for t in counts if t not in (PAD, UNK, BOS)]
    assert sorted(vocab.tokens) == sorted(known)
    counts_in_order = [counts[t] for t in vocab.tokens]
    assert counts_in_order == sorted(counts_in_order, reverse=True)


def test_save_load_exact_even_with_lone_surrogate(tmp_path):
    vocab = Vocabulary(["é", "日本", "\ud800", "\n", " ", '"'], specials=[EOS])
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert path.read_text(encoding="utf-8").isascii()
    loaded = Vocabulary.load(path)
    assert loaded == vocab
    assert list(loaded) == list(vocab)
    assert loaded.eos_id == 2


def test_load_reports_the_file(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"vocab\.json: not a valid JSON file"):
        Vocabulary.load(path)
    path.write_text('{"specials": ["<unk>", "<pad>"], "tokens": []}', encoding="utf-8")
    with pytest.raises(DataError, match=r"vocab\.json: vocabulary specials="):
        Vocabulary.load(path)
    path.write_text('{"specials": ["<pad>", "<unk>"], "tokens": ["a", "a"]}', encoding="utf-8")
    with pytest.raises(DataError, match=r"vocab\.json: vocabulary: tokens='a'"):
        Vocabulary.load(path)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(DataError, match=r"keys=\['counts', 'specials', 'tokens'\]"):
        Vocabulary.from_dict({"specials": [PAD, UNK], "tokens": [], "counts": []})


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"max_tokens": 2}, r"max_tokens=2: expected an int >= 3"),
        ({"max_tokens": 3, "specials": [EOS]}, r"max_tokens=3: expected an int >= 4 or None"),
        ({"max_tokens": 10.0}, r"max_tokens=10\.0: expected an int"),
        ({"max_tokens": True}, r"max_tokens=True: expected an int"),
        ({"min_freq": 0}, r"min_freq=0: expected an int >= 1"),
        ({"specials": "<eos>"}, r"specials='<eos>': expected a list of strings"),
        ({"specials": [PAD]}, r"specials=\['<pad>'\]: expected distinct non-empty strings"),
        ({"specials": [EOS, EOS]}, r"specials=.*: expected distinct"),
        ({"specials": [""]}, r"specials=\[''\]: expected distinct non-empty strings"),
    ],
)
def test_bad_build_arguments(kwargs, pattern):
    with pytest.raises(InvalidArgumentError, match=pattern):
        Vocabulary.from_counts({"a": 1}, **kwargs)


def test_bad_constructor_tokens():
    with pytest.raises(InvalidArgumentError, match=r"tokens='a': expected distinct strings"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(InvalidArgumentError, match=r"tokens='<unk>': expected distinct"):
        Vocabulary(["a", UNK])
    with pytest.raises(InvalidArgumentError, match=r"tokens=3: expected distinct strings"):
        Vocabulary(["a", 3])


def test_lookup_tokens_accepts_numpy_ints_and_generators():
    np = pytest.importorskip("numpy")
    vocab = Vocabulary(["the", "cat"])
    assert vocab.lookup_tokens(np.array([3, 2])) == ["cat", "the"]
    assert vocab.lookup_tokens(i for i in (2, 3)) == ["the", "cat"]
    with pytest.raises(InvalidArgumentError, match=r"ids=1\.5"):
        vocab.lookup_tokens(x for x in (2, 1.5))
