"""Bad input to the estimators' Python API: an rnnkit error naming the argument, the value and
what was expected, raised before any training, never a TypeError from deep inside pathlib,
the Trainer or a checkpoint writer."""

from __future__ import annotations

import re

import pytest

import rnnkit
from rnnkit.callbacks import EarlyStopping
from rnnkit.errors import ArgumentTypeError, DataError, InvalidArgumentError

TEXTS = ["a fine film", "dull and long", "great fun", "awful plot"] * 6
LABELS = ["pos", "neg", "pos", "neg"] * 6
CORPUS = "to be or not to be, that is the question.\n" * 20
CLF = {"hidden_size": 8, "embedding_size": 4, "batch_size": 8, "device": "cpu"}
LM = {"hidden_size": 8, "num_layers": 1, "embedding_size": 4, "seq_len": 8, "batch_size": 4,
      "device": "cpu"}  # fmt: skip


class HookCallback:
    """A callback by duck typing: the four hooks, no Callback base class."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_train_begin(self, trainer) -> None:
        self.calls.append("begin")

    def on_step_end(self, trainer, step, logs) -> None:
        pass

    def on_eval_end(self, trainer, step, metrics) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        self.calls.append("end")


@pytest.fixture(scope="module")
def classifier() -> tuple[rnnkit.TextClassifier, HookCallback]:
    hooks = HookCallback()
    return rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=2, verbose=0, callbacks=[hooks]), hooks


@pytest.fixture(scope="module")
def language_model() -> rnnkit.LanguageModel:
    return rnnkit.LanguageModel(**LM).fit(CORPUS, steps=2, verbose=0)


# ---- constructor and set_params ----
@pytest.mark.parametrize(
    ("estimator", "options"),
    [
        (rnnkit.TextClassifier, {"bidirectional": "no"}),
        (rnnkit.TextClassifier, {"freeze_embeddings": "no"}),
        (rnnkit.LanguageModel, {"lowercase": "no"}),
    ],
)
def test_bool_arguments_refused_at_construction_and_in_set_params(estimator, options) -> None:
    [(name, _)] = options.items()
    pattern = rf"^{name}='no': expected True or False"
    with pytest.raises(InvalidArgumentError, match=pattern):
        estimator(**options)
    model = estimator()
    with pytest.raises(InvalidArgumentError, match=pattern):
        model.set_params(**options)
    assert getattr(model, name) is False  # unchanged


def test_set_params_checks_as_the_constructor_does_and_keeps_the_old_values() -> None:
    clf = rnnkit.TextClassifier(hidden_size=16)
    with pytest.raises(InvalidArgumentError, match=r"^hidden_size=0: expected an int in \[1, 65536\]"):
        clf.set_params(hidden_size=0, dropout=0.1)
    assert clf.hidden_size == 16 and clf.dropout == rnnkit.TextClassifier().dropout
    lm = rnnkit.LanguageModel()
    with pytest.raises(InvalidArgumentError, match=r"^proj_size=4: expected 0 unless cell='lstm'"):
        lm.set_params(cell="gru", proj_size=4)
    assert lm.cell == "lstm" and lm.proj_size == 0
    assert lm.set_params(cell="gru").cell == "gru"  # arguments checked together, then kept


# ---- fit's data ----
@pytest.mark.parametrize(
    ("texts", "labels", "pattern"),
    [
        (["fine \ud800 film", *TEXTS[1:]], LABELS, r"^X\[0\]='fine \\ud800 film': expected valid Unicode text: character 5 is a lone surrogate"),
        (TEXTS, ["pos", "neg\udc00"] * 12, r"^y\[1\]='neg\\udc00': expected valid Unicode text"),
        (TEXTS, ["pos", ""] * 12, r"^y\[1\]='': expected a non-empty label"),
        (TEXTS, ["pos", "  "] * 12, r"^y\[1\]='  ': expected a non-empty label"),
        (TEXTS, ["pos", 1] * 12, r"^y\[1\]=1: expected a str label like 'pos': labels are all str or all int, not a mix"),
        (TEXTS, [[0], ["neg"]] * 12, r"^y\[0\]=0: expected a str label like 'neg'"),
    ],
)  # fmt: skip
def test_classifier_fit_refuses_bad_texts_and_labels(texts, labels, pattern) -> None:
    with pytest.raises(InvalidArgumentError, match=pattern):
        rnnkit.TextClassifier(**CLF).fit(texts, labels, steps=1, verbose=0)


def test_classifier_validation_data_checked_too() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^validation_data\[1\]='\\ud800'"):
        rnnkit.TextClassifier(**CLF).fit(
            TEXTS, LABELS, validation_data=(["ok", "\ud800"], ["pos", "neg"]), steps=1, verbose=0
        )


@pytest.mark.parametrize(
    ("corpus", "pattern"),
    [
        (CORPUS + "\ud800", r"^X='to be or not.*: expected valid Unicode text: character 840 is a lone surrogate '\\ud800'"),
        ([CORPUS, "x\udfff"], r"^X\[1\]='x\\udfff': expected valid Unicode text: character 1"),
    ],
    ids=["one text", "documents"],
)  # fmt: skip
def test_language_model_fit_refuses_a_lone_surrogate(corpus, pattern) -> None:
    with pytest.raises(InvalidArgumentError, match=pattern):
        rnnkit.LanguageModel(**LM).fit(corpus, steps=1, verbose=0)


def test_seq2seq_fit_refuses_a_lone_surrogate() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^targets\[0\]='ein \\ud800'"):
        rnnkit.Seq2Seq(hidden_size=8).fit(["a dog"] * 4, ["ein \ud800"] * 4, steps=1, verbose=0)


# ---- fit's options ----
@pytest.mark.parametrize(
    ("callbacks", "pattern"),
    [
        ([1], r"^callbacks\[0\]=1: expected a Callback with the hooks on_train_begin, on_step_end"),
        ([EarlyStopping(), "csv"], r"^callbacks\[1\]='csv': expected a Callback"),
        (5, r"^callbacks=5: expected a list of rnnkit.callbacks objects .*; wrap one as \[callback\]"),
        (EarlyStopping(), r"^callbacks=<.*EarlyStopping.*: expected a list .*wrap one as \[callback\]"),
        ("csv", r"^callbacks='csv': expected a list"),
    ],
)
def test_fit_refuses_bad_callbacks(callbacks, pattern) -> None:
    fits = [
        lambda: rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=1, verbose=0, callbacks=callbacks),
        lambda: rnnkit.LanguageModel(**LM).fit(CORPUS, steps=1, verbose=0, callbacks=callbacks),
        lambda: rnnkit.Seq2Seq(hidden_size=8).fit(["a"] * 4, ["b"] * 4, steps=1, verbose=0,
                                                  callbacks=callbacks),
    ]  # fmt: skip
    for fit in fits:
        with pytest.raises(ArgumentTypeError, match=pattern):
            fit()


def test_a_duck_typed_callback_still_works(classifier) -> None:
    _, hooks = classifier
    assert hooks.calls == ["begin", "end"]


def test_fit_refuses_a_bad_out(tmp_path) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^out=5: expected a str or os.PathLike path"):
        rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=1, verbose=0, out=5)
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(DataError, match=r"^out '.*file.txt': is a file; expected a directory"):
        rnnkit.LanguageModel(**LM).fit(CORPUS, steps=1, verbose=0, out=file)


# ---- load, save ----
@pytest.mark.parametrize("path", [None, 5, b"runs/x", ["runs/x"]])
def test_load_refuses_a_path_of_the_wrong_type(path) -> None:
    pattern = rf"^path={re.escape(repr(path))}: expected a str or os.PathLike path"
    with pytest.raises(ArgumentTypeError, match=pattern):
        rnnkit.load(path)


def test_save_refuses_a_bad_path(classifier, tmp_path) -> None:
    clf, _ = classifier
    with pytest.raises(ArgumentTypeError, match=r"^path=5: expected a str or os.PathLike path"):
        clf.save(5)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=r"is a file; expected a directory for the checkpoint"):
        clf.save(tmp_path / "file")


# ---- score: unseen labels as evaluate and `rnnkit evaluate` ----
def test_score_refuses_a_label_fit_never_saw(classifier) -> None:
    clf, _ = classifier
    with pytest.raises(DataError, match=r"^y: row 2: label 'meh' was not seen in training"):
        clf.score(TEXTS[:2], ["pos", "meh"])
    with pytest.raises(DataError, match=r"label 'meh' was not seen in training"):
        clf.evaluate(TEXTS[:2], ["pos", "meh"])
    assert clf.score(TEXTS, LABELS) == pytest.approx(clf.evaluate(TEXTS, LABELS)["accuracy"])
    assert clf.score(TEXTS, LABELS) == pytest.approx((clf.predict(TEXTS) == LABELS).mean())


# ---- generate ----
@pytest.mark.parametrize(
    ("prompt", "options", "pattern"),
    [
        (5, {}, r"^prompt=5: expected a str"),
        (["to"], {}, r"^prompt=\['to'\]: expected a str"),
        ("to", {"stop": None}, r"^stop=None: expected a list of non-empty strings"),
        ("to", {"stop": "."}, r"^stop='\.': expected a list of non-empty strings; wrap one as \[stop\]"),
        ("to", {"stop": 3}, r"^stop=3: expected a list"),
        ("to", {"stop": [""]}, r"^stop=\[''\]: expected a list of non-empty strings"),
    ],
)
def test_generate_refuses_bad_prompt_and_stop(language_model, prompt, options, pattern) -> None:
    for model in (rnnkit.LanguageModel(), language_model):  # unfitted: checked first
        with pytest.raises(InvalidArgumentError, match=pattern):
            model.generate(prompt, length=3, **options)
    assert isinstance(language_model.generate("to", length=3, stop=(x for x in ["."])), str)
