"""Bad Python API input, fifth pass: a device that is not a str, an estimator given to the
exporters, a callback class instead of an instance, and helpers' arguments of the wrong type."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import embeddings, export
from rnnkit.callbacks import EarlyStopping
from rnnkit.errors import ArgumentTypeError, InvalidArgumentError
from rnnkit.text.detokenize import detokenize
from rnnkit.text.vocab import Vocabulary

TEXTS = ["a fine film", "dull and long", "great fun", "awful plot"] * 6
LABELS = ["pos", "neg", "pos", "neg"] * 6
CLF = {"hidden_size": 8, "embedding_size": 4, "batch_size": 8, "device": "cpu", "embeddings": "none"}


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory) -> tuple[rnnkit.TextClassifier, str]:
    classifier = rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=1, verbose=0)
    run = tmp_path_factory.mktemp("clf") / "run"
    classifier.save(run)
    return classifier, str(run)


@pytest.mark.parametrize("device", [None, 5, ["cpu"], b"cpu"])
def test_load_refuses_a_device_that_is_not_a_str(saved_classifier, device) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^device=.*: expected a str: auto, cpu, cuda or cuda:N"):
        rnnkit.load(saved_classifier[1], device=device)


def test_load_takes_a_torch_device(saved_classifier) -> None:
    classifier = rnnkit.load(saved_classifier[1], device=torch.device("cpu"))
    assert classifier.predict(["great fun"]) == saved_classifier[0].predict(["great fun"])


def test_the_exporters_take_a_fitted_estimator(saved_classifier, tmp_path) -> None:
    pytest.importorskip("onnx")
    path = export.export_classifier(saved_classifier[0], tmp_path / "clf.onnx", check=False)
    assert path.exists() and path.with_suffix(".json").exists()  # with the vocabulary


def test_the_exporters_refuse_an_unfitted_or_other_estimator(saved_classifier, tmp_path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^run_or_model='an unfitted TextClassifier': .*call fit first"):
        export.export_classifier(rnnkit.TextClassifier(), tmp_path / "a.onnx")
    with pytest.raises(InvalidArgumentError, match=r"^run_or_model='TextClassifier': .*a fitted rnnkit\.LanguageModel"):
        export.export_language_model(saved_classifier[0], tmp_path / "b.onnx")


def test_a_callback_class_is_refused_before_training() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^callbacks\[0\]=.*EarlyStopping.*call the class, EarlyStopping\(\.\.\.\)"):
        rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=1, verbose=0, callbacks=[EarlyStopping])


@pytest.mark.parametrize(
    ("vocab", "pattern"),
    [("the", r"^vocab='the': expected an iterable of str words"), (5, r"^vocab=5:"),
     ([1, 2], r"^vocab\[0\]=1: expected a str word"), (["a", None], r"^vocab\[1\]=None")],
)  # fmt: skip
def test_load_vectors_refuses_a_vocab_that_is_not_words(tmp_path, vocab, pattern) -> None:
    vectors = tmp_path / "v.txt"
    vectors.write_text("the 0.1 0.2\ncat 0.3 0.4\n")
    with pytest.raises(ArgumentTypeError, match=pattern):
        embeddings.load_vectors(vectors, vocab=vocab)
    assert embeddings.load_vectors(vectors, vocab=Vocabulary(["cat"])).words == ["cat"]


@pytest.mark.parametrize("value", ["abc", None, [[1.0], [1.0, 2.0]]])
def test_cosine_similarity_refuses_what_is_not_a_vector(value) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^a=.*: expected a vector of numbers"):
        embeddings.cosine_similarity(value, [1.0, 2.0])


@pytest.mark.parametrize(("tokens", "pattern"), [(None, r"^tokens=None"), ("a b", r"^tokens='a b'"),
                                                 (["a", 1], r"^tokens\[1\]=1: expected a str token")])  # fmt: skip
def test_detokenize_refuses_what_is_not_tokens(tokens, pattern) -> None:
    with pytest.raises(ArgumentTypeError, match=pattern):
        detokenize(tokens)


@pytest.fixture(scope="module")
def inspected(saved_classifier):
    from rnnkit import inspect as inspection

    return inspection, inspection.inspect(saved_classifier[1], "great fun")


@pytest.mark.parametrize(
    ("arguments", "error", "pattern"),
    [
        ({"config": "x"}, ArgumentTypeError, r"^config='x': expected an InspectConfig, a dict"),
        ({"config": {"bogus": 1}}, InvalidArgumentError, r"bogus: unknown config option"),
        ({"run": None}, ArgumentTypeError, r"^run=None: expected a run or checkpoint directory"),
        ({"text": None}, ArgumentTypeError, r"^text=None: expected a str"),
        ({"text": "fun \ud800"}, InvalidArgumentError, r"character 4 is a lone surrogate"),
    ],
)
def test_inspect_refuses_bad_arguments(saved_classifier, inspected, arguments, error, pattern) -> None:
    inspection, _ = inspected
    call = {"run": saved_classifier[1], "text": "great fun"} | arguments
    with pytest.raises(error, match=pattern):
        inspection.inspect(**call)


def test_inspect_takes_its_config_as_a_dict(saved_classifier, inspected) -> None:
    inspection, view = inspected
    again = inspection.inspect(saved_classifier[1], "great fun", config={"ig_steps": 32})
    assert again.tokens.tokens == view.tokens.tokens


def test_write_html_refuses_what_it_cannot_write(inspected, tmp_path) -> None:
    from rnnkit.errors import DataError

    inspection, view = inspected
    with pytest.raises(DataError, match=r"is a directory"):
        inspection.write_html(view, tmp_path)
    with pytest.raises(ArgumentTypeError, match=r"^view='abc': expected an Inspection"):
        inspection.write_html("abc", tmp_path / "page.html")
    assert inspection.write_html(view, tmp_path / "new" / "page.html").stat().st_size > 0


@pytest.mark.parametrize(
    ("text", "error", "pattern"),
    [(None, ArgumentTypeError, r"^text=None: expected a str"), ("", InvalidArgumentError, r"at least one word"),
     ("a \ud800", InvalidArgumentError, r"lone surrogate")],
)  # fmt: skip
def test_seq2seq_alignment_refuses_what_is_not_a_sentence(text, error, pattern) -> None:
    source = ["a b", "b c", "c d", "d a"] * 8
    model = rnnkit.Seq2Seq(embedding_size=4, encoder_hidden_size=4, hidden_size=4, attention_size=4,
                           min_freq=1, batch_size=8, device="cpu")  # fmt: skip
    model.fit(source, source, steps=1, verbose=0)
    with pytest.raises(error, match=pattern):
        model.alignment(text)


def _edited(saved: str, tmp_path, edit) -> str:
    """A copy of the saved checkpoint with config.json edited and the manifest re-signed."""
    import json
    import shutil

    from tests.estimators.test_bad_api_inputs_more import _resign

    copy = tmp_path / "edited"
    shutil.copytree(saved, copy)
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    _resign()(copy)
    return str(copy)


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda c: c.update(trainer=None), r"section\(s\) trainer are not JSON objects"),
        (lambda c: c.update(data=5), r"section\(s\) data are not JSON objects"),
        (lambda c: c.update(label_values=["pos"]), r"label_values=\['pos'\], expected a list of 2 labels"),
        (lambda c: c.update(label_values="ab"), r"label_values='ab'"),
        (lambda c: c.update(label_values=["pos", "pos"]), r"expected 2 distinct str or int labels"),
        (lambda c: c.update(label_values=[{"a": 1}, None]), r"expected 2 distinct str or int labels"),
        (lambda c: c.update(label_values=[[], "pos"]), r"expected 2 distinct str or int labels"),
    ],
)
def test_a_re_signed_config_that_does_not_hold_together_is_a_checkpoint_error(
    saved_classifier, tmp_path, edit, pattern
) -> None:
    from rnnkit.errors import CheckpointError

    with pytest.raises(CheckpointError, match=pattern):
        rnnkit.load(_edited(saved_classifier[1], tmp_path, edit))


def test_use_before_fit_or_adapt_is_a_not_fitted_error_as_in_scikit_learn() -> None:
    from rnnkit.errors import NotFittedError
    from rnnkit.text.vectorizer import TextVectorizer

    vectorizer = TextVectorizer()
    with pytest.raises(NotFittedError, match=r"call adapt\(texts\) first"):
        vectorizer.encode("a")
    assert not hasattr(vectorizer, "vocab")  # an AttributeError too
    with pytest.raises(NotFittedError, match=r"call fit first") as caught:
        rnnkit.TextClassifier().predict(["a"])
    assert isinstance(caught.value, ValueError)


def test_bleu_without_sacrebleu_names_the_extra(monkeypatch) -> None:
    import builtins

    from rnnkit.errors import MissingDependencyError
    from rnnkit.train import bleu

    real_import = builtins.__import__

    def no_sacrebleu(name, *args, **kwargs):
        if name == "sacrebleu":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sacrebleu)
    with pytest.raises(MissingDependencyError, match=r"rnnkit\[seq2seq\]"):
        bleu.corpus_scores(["a b"], ["a b"])


def test_export_check_must_be_a_bool(saved_classifier, tmp_path) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^check='no': expected a bool"):
        export.export_classifier(saved_classifier[1], tmp_path / "m.onnx", check="no")


def test_the_unknown_row_cannot_be_the_padding_row(tmp_path) -> None:
    vectors = tmp_path / "v.txt"
    vectors.write_text("the 0.1 0.2\ncat 0.3 0.4\n")
    words = embeddings.load_vectors(vectors)
    with pytest.raises(InvalidArgumentError, match=r"^unk_id=0: expected another id than pad_id=0"):
        embeddings.build_embedding_matrix(words, ["<pad>", "the", "cat"], unk_id=0)


@pytest.fixture(scope="module")
def int_classifier() -> rnnkit.TextClassifier:
    return rnnkit.TextClassifier(**CLF).fit(TEXTS, [0, 1] * 12, steps=1, verbose=0)


def test_str_labels_are_refused_where_fit_was_given_ints(int_classifier, saved_classifier) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^y\[0\]='0': expected an int label, as fit was given"):
        int_classifier.evaluate(["great fun"], ["0"])
    with pytest.raises(InvalidArgumentError, match=r"^y\[0\]=1: expected a str label"):
        saved_classifier[0].score(["great fun"], [1])


def test_score_takes_scikit_learns_sample_weight(int_classifier) -> None:
    labels = [0, 1] * 12
    right = int_classifier.predict(TEXTS) == np.asarray(labels)
    weights = np.where(np.arange(24) < 8, 1.0, 0.0)  # the first 8 texts alone
    assert int_classifier.score(TEXTS, labels, sample_weight=weights) == pytest.approx(right[:8].mean())
    assert int_classifier.score(TEXTS, labels, sample_weight=[2.0] * 24) == pytest.approx(right.mean())
    for bad, pattern in (([1.0] * 3, r"expected \(24,\)"), ("x", r"expected 24 numbers"),
                         ([0.0] * 24, r"not all 0"), ([float("nan")] * 24, r"finite")):  # fmt: skip
        with pytest.raises(InvalidArgumentError, match=pattern):
            int_classifier.score(TEXTS, labels, sample_weight=bad)


@pytest.mark.parametrize(
    ("corpus", "pattern"),
    [("{tmp}", r"not a directory"), ("Nietzsche", r"the bundled corpus 'nietzsche' \(names are lower case\)"),
     ("SHAKESPEARE", r"the bundled corpus 'shakespeare'")],
)  # fmt: skip
def test_a_directory_or_a_miscased_corpus_name_is_not_read_as_text(corpus, pattern, tmp_path) -> None:
    with pytest.raises(InvalidArgumentError, match=pattern):
        rnnkit.LanguageModel(hidden_size=8).fit(corpus.format(tmp=tmp_path), steps=1, verbose=0)
