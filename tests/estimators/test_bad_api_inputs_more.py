"""Bad input to the Python API, third pass: paths no file system can hold, numpy numbers,
options that the chosen decoding would ignore.

Every case must raise an rnnkit error (a ValueError) naming the argument and the value, never
an OSError from deep inside pathlib; numpy integers and floats count as numbers, bools never.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.config import check_types
from rnnkit.embeddings import load_vectors
from rnnkit.errors import (
    ArgumentTypeError,
    CheckpointError,
    DataError,
    InvalidArgumentError,
    RnnkitError,
)
from rnnkit.export import export
from rnnkit.tasks.generate_config import GenerateConfig
from rnnkit.text import TextVectorizer, Vocabulary
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.trainer import TrainerConfig
from rnnkit.validation import check_float, check_int, show_path

TEXTS = ["a fine film", "dull and long", "great fun", "awful plot"] * 6
LABELS = ["pos", "neg", "pos", "neg"] * 6
CLF = {"hidden_size": 8, "embedding_size": 4, "batch_size": 8, "device": "cpu"}
LM = {"hidden_size": 8, "num_layers": 1, "embedding_size": 4, "seq_len": 8, "batch_size": 4,
      "device": "cpu"}  # fmt: skip
CORPUS = "to be or not to be, that is the question.\n" * 20
LONG = "x" * 300  # one name over the 255 bytes a file system allows


@pytest.fixture(scope="module")
def classifier() -> rnnkit.TextClassifier:
    return rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=1, verbose=0)


@pytest.fixture(scope="module")
def language_model() -> rnnkit.LanguageModel:
    return rnnkit.LanguageModel(**LM).fit(CORPUS, steps=1, verbose=0)


# ---- a. paths no file system can hold ----
PATH_CALLS = {
    "load": lambda clf, p: rnnkit.load(p),
    "save": lambda clf, p: clf.save(p),
    "fit out": lambda clf, p: rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=1, verbose=0, out=p),
    "load_vectors": lambda clf, p: load_vectors(p),
    "Vocabulary.load": lambda clf, p: Vocabulary.load(p),
    "Vocabulary.save": lambda clf, p: Vocabulary(["a"]).save(p),
    "TextVectorizer.load": lambda clf, p: TextVectorizer.load(p),
    "export out": lambda clf, p: export(p, p + ".onnx"),
    "export run": lambda clf, p: export(p, str(Path(os.getcwd()) / "never.onnx")),
    "load_checkpoint": lambda clf, p: load_checkpoint(p),
}  # fmt: skip
NAMES = {"load": "path", "save": "path", "fit out": "out", "load_vectors": "vectors",
         "Vocabulary.load": "path", "Vocabulary.save": "path", "TextVectorizer.load": "path",
         "export out": "out", "export run": "path", "load_checkpoint": ""}  # fmt: skip


@pytest.mark.parametrize("call", list(PATH_CALLS))
@pytest.mark.parametrize("path", [LONG, f"nowhere/{LONG}/x", "d/" * 2100 + "x"], ids=["name", "deep", "path"])
def test_a_path_too_long_is_an_rnnkit_error_naming_it_shortened(call, path, classifier, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RnnkitError) as caught:
        PATH_CALLS[call](classifier, path)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError) and "too long" in message, message
    assert message.startswith(NAMES[call]) and len(message) < 400, message
    assert "characters)" in message  # shortened, with the real length
    assert not (tmp_path / "never.onnx").exists()


@pytest.mark.parametrize("path", ["a\ud800b", "a\x00b"], ids=["lone surrogate", "NUL"])
def test_a_path_no_file_name_can_hold_is_refused(path) -> None:
    with pytest.raises(RnnkitError, match=r"^path 'a.*b': holds"):
        rnnkit.load(path)


def test_a_symbolic_link_loop_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(RnnkitError, match=r"^path '.*a': is a symbolic link loop"):
        rnnkit.load(tmp_path / "a")
    with pytest.raises(RnnkitError, match=r"^out '.*a': is a symbolic link loop"):
        rnnkit.TextClassifier(**CLF).fit(TEXTS, LABELS, steps=1, verbose=0, out=tmp_path / "a")


def test_show_path_keeps_short_paths_and_shortens_long_ones() -> None:
    assert show_path("runs/a") == "'runs/a'"
    shown = show_path("/r/" + "x" * 1000)
    assert shown.startswith("'/r/xxx") and shown.endswith("' (1,003 characters)") and len(shown) < 150


# ---- b. numpy numbers are numbers; bools and strings are not ----
def test_check_int_and_check_float_take_numpy_numbers_as_python_ones() -> None:
    assert type(check_int("n", np.int64(3), 1, 10)) is int
    assert type(check_int("n", np.uint8(3), 1, 10)) is int
    assert type(check_float("x", np.float32(0.5), 0, 1)) is float
    assert type(check_float("x", np.int32(1), 0, 1)) is float
    for value in (True, np.bool_(True), "3", 3.0, np.float64(3.0)):
        with pytest.raises(ArgumentTypeError, match=r"^n=.*: expected an int in \[1, 10\], not a "):
            check_int("n", value, 1, 10)
    for value in (True, np.bool_(False), "0.5", None):
        with pytest.raises(ArgumentTypeError, match=r"^x=.*: expected a finite number in \[0, 1\], not "):
            check_float("x", value, 0, 1)
    with pytest.raises(InvalidArgumentError, match=r"^n=np\.int64\(11\): expected an int in \[1, 10\]$"):
        check_int("n", np.int64(11), 1, 10)


def test_configs_store_numpy_numbers_as_python_numbers() -> None:
    config = TrainerConfig(steps=np.int64(2), lr=np.float32(0.5), seed=np.uint16(3), epochs=None,
                           minutes=None)  # fmt: skip
    assert (type(config.steps), type(config.lr), type(config.seed)) == (int, float, int)
    check_types(config)  # idempotent
    with pytest.raises(ArgumentTypeError, match=r"^steps=np\.True_: expected an int or None"):
        TrainerConfig(steps=np.bool_(True), epochs=None, minutes=None)


def test_generate_takes_numpy_integers(language_model) -> None:
    text = language_model.generate("to", length=np.int64(3), seed=np.int64(1), top_k=np.int32(5))
    assert isinstance(text, str)
    texts = language_model.generate("to", length=np.int64(3), beam=np.int64(2),
                                    num_samples=np.int64(2))  # fmt: skip
    assert len(texts) == 2
    config = GenerateConfig(length=np.int64(3), temperature=np.float32(0.5))
    assert (type(config.length), type(config.temperature)) == (int, float)
    with pytest.raises(ArgumentTypeError, match=r"^length=True: expected an int"):
        language_model.generate("to", length=True)


def test_estimators_take_numpy_numbers_and_save_plain_json(tmp_path: Path) -> None:
    clf = rnnkit.TextClassifier(**CLF | {"hidden_size": np.int64(8), "dropout": np.float32(0.25)})
    clf.fit(TEXTS, LABELS, steps=np.int64(1), verbose=0)
    clf.save(tmp_path / "m")
    assert rnnkit.load(tmp_path / "m").get_params()["hidden_size"] == 8


# ---- c. options the decoding would ignore ----
@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"greedy": True, "temperature": 0.5}, r"^temperature=0\.5: expected the default 0\.8 with greedy=True"),
        ({"beam": 3, "temperature": 1.2}, r"^temperature=1\.2: expected the default 0\.8 with beam=3 \(beam search\)"),
        ({"greedy": True, "top_k": 2}, r"^top_k=2: expected None with greedy=True"),
        ({"beam": 2, "top_p": 0.5}, r"^top_p=0\.5: expected None with beam=2"),
    ],
)  # fmt: skip
def test_sampling_options_with_greedy_or_beam_search_are_refused(options, pattern, language_model) -> None:
    with pytest.raises(InvalidArgumentError, match=pattern):
        GenerateConfig(**options)
    with pytest.raises(InvalidArgumentError, match=pattern):
        language_model.generate("to", length=3, **options)


def test_the_default_temperature_goes_with_greedy_and_beam_search(language_model) -> None:
    assert GenerateConfig(greedy=True, temperature=0.8) and GenerateConfig(beam=3, temperature=0.8)
    greedy = language_model.generate("to", length=4, greedy=True)
    assert greedy == language_model.fitted_.generate("to", length=4, greedy=True)[0]


# ---- what the fuzzing pass found ----
def _resign():
    """test_bad_inputs.resign: rewrite a checkpoint's manifest after an edit."""
    import importlib.util

    path = Path(__file__).parents[1] / "cli" / "test_bad_inputs.py"
    spec = importlib.util.spec_from_file_location("bad_inputs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.resign


def test_load_names_config_json_when_the_estimator_refuses_its_settings(classifier, tmp_path: Path) -> None:
    import json

    saved = classifier.save(tmp_path / "m")
    config = json.loads((saved / "config.json").read_text())
    config["data"]["standardize"] = "shout"
    (saved / "config.json").write_text(json.dumps(config))
    _resign()(saved)
    with pytest.raises(CheckpointError, match=r"m/config\.json: standardize='shout': expected one of"):
        rnnkit.load(saved)


def test_length_penalty_without_beam_search_is_refused(language_model) -> None:
    from rnnkit.tasks.translation import DecodingConfig

    pattern = r"^length_penalty=0\.5: expected the default 1\.0 with beam=1: only beam search"
    with pytest.raises(InvalidArgumentError, match=pattern):
        language_model.generate("to", length=3, length_penalty=0.5)
    with pytest.raises(InvalidArgumentError, match=pattern):
        DecodingConfig(beam=1, length_penalty=0.5)
    assert DecodingConfig(beam=2, length_penalty=0.5) and GenerateConfig(beam=2, length_penalty=0.5)


def test_a_word_prompt_of_spaces_is_an_empty_prompt() -> None:
    lm = rnnkit.LanguageModel(**LM | {"level": "word"}).fit(CORPUS, steps=1, verbose=0)
    assert lm.generate("   ", length=3, seed=0).strip() == lm.generate("", length=3, seed=0).strip()


def test_a_corpus_too_small_to_split_names_the_corpus() -> None:
    with pytest.raises(DataError, match=r"^corpus '<text>': 2 training and 0 validation tokens"):
        rnnkit.LanguageModel(**LM).fit("ab", steps=1, verbose=0)


def test_bytes_for_texts_say_decode_them() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^X=b'to be': expected str texts, not bytes: decode"):
        rnnkit.LanguageModel(**LM).fit(b"to be", steps=1, verbose=0)


def test_config_files_refuse_a_key_given_twice(tmp_path: Path) -> None:
    from rnnkit.config import read_config_file
    from rnnkit.validation import parse_json

    assert parse_json('{"a": 1, "a": 2}') == {"a": 2}  # JSON's rule, kept for data files
    with pytest.raises(ValueError, match=r"the key 'a' appears twice in one object"):
        parse_json('{"b": {"a": 1, "a": 2}}', unique_keys=True)
    config = tmp_path / "c.json"
    config.write_text('{"model": {"hidden_size": 8, "hidden_size": 16}}')
    with pytest.raises(DataError, match=r"c\.json: not valid json: the key 'hidden_size' appears twice"):
        read_config_file(config)


def test_inspect_page_takes_numpy_indices_and_refuses_bools(language_model) -> None:
    from rnnkit.inspect.analysis import InspectConfig, inspect
    from rnnkit.inspect.page import render_html

    view = inspect(language_model.fitted_, "to be", InspectConfig(top_k=np.int64(2)))
    assert "<html" in render_html(view, layer=np.int64(0), unit=np.int32(1)).lower()
    with pytest.raises(InvalidArgumentError, match=r"^layer=True: expected an int in 0\.\.0"):
        render_html(view, layer=True)
