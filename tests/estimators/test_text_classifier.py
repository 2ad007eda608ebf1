"""rnnkit.TextClassifier: fit / predict / evaluate / save / load, scikit-learn conventions."""

from __future__ import annotations

import inspect
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.config import field_names
from rnnkit.errors import InvalidArgumentError

CUES = {"pos": ["good", "great", "fine"], "neg": ["bad", "dull", "awful"]}
FILLER = ["the", "film", "plot", "was", "a", "story", "actors"]


def reviews(n: int, seed: int) -> tuple[list[str], list[str]]:
    """n short texts, each with a cue word of its label among filler words."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        words = [rng.choice(FILLER) for _ in range(rng.randint(1, 5))] + [rng.choice(CUES[label])]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


TINY = {"hidden_size": 8, "embedding_size": 8, "batch_size": 16, "epochs": 6, "lr": 0.05,
        "warmup_steps": 2, "device": "cpu"}  # fmt: skip


@pytest.fixture(scope="module")
def fitted() -> rnnkit.TextClassifier:
    texts, labels = reviews(120, 0)
    return rnnkit.TextClassifier(**TINY).fit(texts, labels, verbose=0)


def test_every_argument_has_a_dataclass_default_and_help() -> None:
    signature = inspect.signature(rnnkit.TextClassifier)
    doc = rnnkit.TextClassifier.__doc__
    assert signature.parameters["lr"].default == rnnkit.ClassifierTrainerConfig.lr == 3e-3
    budget = {name: signature.parameters[name].default for name in ("epochs", "minutes", "patience")}
    assert budget == {"epochs": 30, "minutes": 14.0, "patience": 3}  # early stopping by default
    assert signature.parameters["restore_best"].default is True
    for name, parameter in signature.parameters.items():
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert f"\n        {name}={parameter.default!r}: " in doc, name  # documented
    for name in ("recurrent_dropout", "layer_norm", "proj_size", "implementation", "cell"):
        assert name in signature.parameters
    assert set(signature.parameters) <= {
        *field_names(rnnkit.ClassifierConfig), *field_names(rnnkit.ClassifyDataConfig),
        *field_names(rnnkit.ClassifierTrainerConfig)}  # fmt: skip


def test_unknown_option_is_a_value_error_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"hiden_size: unknown TextClassifier option; valid .*hidden_size"):
        rnnkit.TextClassifier(hiden_size=8)
    with pytest.raises(ValueError, match=r"celll: unknown TextClassifier option"):
        rnnkit.TextClassifier().set_params(celll="gru")
    with pytest.raises(InvalidArgumentError, match=r"cell='transformer': expected one of"):
        rnnkit.TextClassifier(cell="transformer").fit(["a b", "c d"] * 5, [0, 1] * 5, verbose=0)


def test_predictions_are_in_the_users_label_values(fitted: rnnkit.TextClassifier) -> None:
    assert fitted.classes_.tolist() == ["neg", "pos"]
    texts, labels = reviews(40, 1)
    predicted = fitted.predict(texts)
    assert predicted.dtype.kind == "U" and set(predicted) <= {"neg", "pos"}
    proba = fitted.predict_proba(texts)
    assert proba.shape == (40, 2) and np.allclose(proba.sum(1), 1, atol=1e-6)
    assert (fitted.classes_[proba.argmax(1)] == predicted).all()
    assert fitted.score(texts, labels) >= 0.9  # one cue word per text
    report = fitted.evaluate(texts, labels)
    assert report["accuracy"] == pytest.approx(fitted.score(texts, labels))
    assert {"loss", "macro_f1", "per_class", "confusion"} <= set(report)
    assert set(report["per_class"]) == {"neg", "pos"}


def test_int_labels_and_validation_data_and_history() -> None:
    texts, labels = reviews(80, 2)
    ints = np.array([7 if y == "pos" else 3 for y in labels])
    val_texts, val_labels = reviews(20, 3)
    val_ints = [7 if y == "pos" else 3 for y in val_labels]
    clf = rnnkit.TextClassifier(**TINY).fit(texts, ints, validation_data=(val_texts, val_ints),
                                            epochs=2, verbose=0)  # fmt: skip
    assert clf.classes_.tolist() == [3, 7] and clf.predict(val_texts).dtype.kind == "i"
    evals = [r for r in clf.history_ if "val_accuracy" in r]
    assert [r["step"] for r in evals] == [5, 10]  # 80 texts in 5 batches; fit's 2 epochs won


def test_fit_save_load_gives_identical_predictions(fitted, tmp_path: Path) -> None:
    texts, _ = reviews(30, 4)
    fitted.save(tmp_path / "model")
    loaded = rnnkit.load(tmp_path / "model")
    assert isinstance(loaded, rnnkit.TextClassifier)
    assert loaded.get_params() == fitted.get_params()
    assert np.array_equal(loaded.predict_proba(texts), fitted.predict_proba(texts))
    assert loaded.classes_.tolist() == fitted.classes_.tolist()


def test_a_labelled_file_and_a_run_directory(tmp_path: Path) -> None:
    texts, labels = reviews(60, 5)
    path = tmp_path / "train.csv"
    path.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels, strict=True)))
    clf = rnnkit.TextClassifier(**TINY).fit(str(path), epochs=1, out=tmp_path / "run", verbose=0)
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    again = rnnkit.load(tmp_path / "run")  # a run directory: its best/ checkpoint
    assert np.array_equal(again.predict_proba(texts), clf.predict_proba(texts))


def test_unfitted_model_says_so() -> None:
    with pytest.raises(InvalidArgumentError, match="call fit first"):
        rnnkit.TextClassifier().predict(["a"])


def test_engine_options_reach_the_recurrent_layer() -> None:
    texts, labels = reviews(40, 6)
    clf = rnnkit.TextClassifier(**TINY | {"epochs": 1}, recurrent_dropout=0.2, layer_norm=True,
                                proj_size=4, implementation="loop").fit(texts, labels, verbose=0)  # fmt: skip
    rnn = clf.fitted_.model.rnn
    assert (rnn.recurrent_dropout, rnn.layer_norm, rnn.proj_size, rnn.implementation) == (
        0.2, True, 4, "loop")  # fmt: skip


@pytest.mark.slow
def test_sklearn_clone_cross_val_score_and_pipeline() -> None:
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    assert sklearn.__version__
    clf = rnnkit.TextClassifier(**TINY | {"batch_size": 8})  # more steps on half the data
    copy = clone(clf)
    assert copy is not clf and copy.get_params() == clf.get_params() and is_classifier(clf)
    texts, labels = reviews(240, 7)  # at 60 texts a fold the n-gram bag could still overfit
    scores = cross_val_score(clf, np.array(texts, dtype=object), np.array(labels), cv=2)
    assert scores.shape == (2,) and scores.min() >= 0.8
    upper = FunctionTransformer(lambda x: [t.upper() for t in x])  # standardize lower-cases again
    pipeline = make_pipeline(upper, clone(clf))
    pipeline.fit(texts, labels, textclassifier__verbose=0)
    assert pipeline.score(texts, labels) >= 0.8


def test_verbose_0_writes_nothing(capsys) -> None:
    texts, labels = reviews(40, 8)
    rnnkit.TextClassifier(**TINY | {"epochs": 1}).fit(texts, labels, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_1_off_a_terminal_writes_plain_lines(capsys) -> None:
    texts, labels = reviews(80, 9)
    rnnkit.TextClassifier(**TINY | {"epochs": 2, "log_every": 2}).fit(texts, labels, verbose=1)
    captured = capsys.readouterr()
    assert captured.out == ""  # the library never prints
    assert "\r" not in captured.err  # stderr is no terminal: no redrawn bar
    lines = captured.err.splitlines()
    assert any(line.startswith("step 2/") and "loss" in line for line in lines)
    assert any("val_accuracy" in line for line in lines)


def test_same_seed_same_weights() -> None:
    texts, labels = reviews(40, 10)
    a, b = (rnnkit.TextClassifier(**TINY | {"epochs": 1}, seed=5).fit(texts, labels, verbose=0)
            for _ in range(2))  # fmt: skip
    for (name, x), (_, y) in zip(a.fitted_.model.state_dict().items(),
                                 b.fitted_.model.state_dict().items(), strict=True):  # fmt: skip
        assert torch.equal(x, y), name
