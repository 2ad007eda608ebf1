"""Bad Python API input, fourth pass: bools as token ids, sets as texts, labels that are None
or floats, and the answer to an empty text (a prediction from an all-padding input)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import ArgumentTypeError, InvalidArgumentError
from rnnkit.estimators.inputs import as_labels, as_texts
from rnnkit.text.vocab import Vocabulary

TEXTS = ["a fine film", "dull and long", "great fun", "awful plot"] * 6
LABELS = ["pos", "neg", "pos", "neg"] * 6
CLF = {"hidden_size": 8, "embedding_size": 4, "batch_size": 8, "device": "cpu", "embeddings": "none"}
VOCAB = Vocabulary(["a", "b"])  # ids 0 <pad>, 1 <unk>, 2 a, 3 b


@pytest.fixture(scope="module")
def classifier() -> rnnkit.TextClassifier:
    return rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=2, verbose=0)


# ---- leftover 2: a bool is not a token id (torch refuses bool indices too) ----
@pytest.mark.parametrize("flag", [True, False, torch.tensor(True)])
def test_a_bool_is_not_a_token_id(flag) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^ids=.*: expected token ids that are ints in 0\.\.3, not a bool"):
        VOCAB.id_to_token(flag)
    with pytest.raises(ArgumentTypeError, match=r"not a bool"):
        VOCAB.lookup_tokens([2, flag])


def test_integer_ids_of_every_kind_still_work() -> None:
    for index in (2, np.int64(2), torch.tensor(2)):
        assert VOCAB.id_to_token(index) == "a"
    assert VOCAB.lookup_tokens([2, np.int32(3), torch.tensor(1)]) == ["a", "b", "<unk>"]
    with pytest.raises(ArgumentTypeError, match=r"^ids=np\.True_"):
        VOCAB.id_to_token(np.bool_(True))  # numpy's bool has no __index__: refused as before


# ---- sets have no order: the answers could not be matched to the texts ----
@pytest.mark.parametrize("texts", [{"a fine film", "dull"}, frozenset({"a"})])
def test_a_set_of_texts_is_refused(texts) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^X='a (frozen)?set of \d': expected an ordered list"):
        as_texts(texts)


def test_predict_refuses_a_set(classifier) -> None:
    with pytest.raises(InvalidArgumentError, match=r"not a set"):
        classifier.predict({"a fine film", "dull"})


# ---- a label that is None, a float or NaN is named with its position ----
@pytest.mark.parametrize(
    ("labels", "pattern"),
    [
        (["pos", None], r"^y\[1\]=None: expected a str or int label"),
        ([1, None], r"^y\[1\]=None: expected a str or int label"),
        ([1.5, 2.5], r"^y\[0\]=1\.5: expected a str or int label"),
        ([0, float("nan")], r"^y\[1\]=nan: expected a str or int label"),
    ],
)  # fmt: skip
def test_a_label_of_another_type_is_named(labels, pattern) -> None:
    with pytest.raises(ArgumentTypeError, match=pattern):
        as_labels(labels, 2)


def test_score_names_a_none_label(classifier) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^y\[1\]=None"):
        classifier.score(["a fine film", "dull"], ["pos", None])


# ---- leftover 3: an empty text is answered as an all-padding input, as Keras and sklearn do ----
def test_an_empty_text_gets_a_prediction(classifier) -> None:
    proba = classifier.predict_proba(["", "   ", "a fine film"])
    assert proba.shape == (3, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.allclose(proba[0], proba[1])  # both are no tokens at all
    assert list(classifier.predict([""])) == [classifier.classes_[proba[0].argmax()]]


# ---- a language model's corpus: a one-word str that ends like a file name but names none ----
@pytest.mark.parametrize("path", ["missing.txt", "/no/such/dir/wiki.train.tokens", "data.CSV.gz"])
def test_a_missing_corpus_file_is_not_read_as_text(path: str) -> None:
    from rnnkit.estimators.inputs import as_corpus

    with pytest.raises(InvalidArgumentError, match=r"^X=.*: expected an existing file, .*no such file"):
        as_corpus(path)


def test_texts_that_merely_mention_a_file_are_texts(tmp_path) -> None:
    from rnnkit.estimators.inputs import as_corpus

    assert as_corpus("see notes.txt for more") == "see notes.txt for more"
    assert as_corpus(["missing.txt"]) == "missing.txt"  # a list is always documents
    (tmp_path / "c.txt").write_text("to be or not to be\n")
    assert as_corpus(str(tmp_path / "c.txt")).startswith("to be")
