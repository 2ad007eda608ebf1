"""Bad data files, config files and damaged runs: exit status 2 and ONE line, no traceback.

The cases of a fuzzing pass: JSON nested too deeply or holding a 5,000-digit integer (in a
JSON Lines data file, a ``--config`` file, a checkpoint's files, a run's metrics log),
config values of the wrong type (a number for a path, ``"no"`` for a bool), a misspelt config
section, JSON Lines labels that are not one class, a run directory damaged before
``--resume``, and checkpoints (re-signed) whose weights are NaN or whose labels are not names.
The CLI runs in-process with the helpers of ``test_bad_inputs.py``; the config dataclasses
are also checked from Python.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.config import check_types
from rnnkit.data.readers import LabelMap, json_label, read_labelled
from rnnkit.errors import ArgumentTypeError, DataError, InvalidArgumentError
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.classification import ClassifyDataConfig
from rnnkit.tasks.language_modeling import LMDataConfig
from rnnkit.tasks.translation import TranslationDataConfig
from rnnkit.train.trainer import TrainerConfig
from rnnkit.validation import parse_json

_spec = importlib.util.spec_from_file_location(
    "bad_inputs", Path(__file__).with_name("test_bad_inputs.py")
)
bad_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bad_inputs)
run_cli, check_one_line, fill = bad_inputs.run_cli, bad_inputs.check_one_line, bad_inputs.fill
resign = bad_inputs.resign

DEEP = "[" * 100_000 + "]" * 100_000
HUGE = "1" + "0" * 5000
PAIRS = [("a fine film", "pos"), ("dull and long", "neg")] * 20


def _jsonl(first: str = "", labels: tuple[Any, Any] = ("pos", "neg")) -> str:
    rows = [json.dumps({"text": t, "label": labels[i % 2]}) for i, (t, _) in enumerate(PAIRS)]
    return first + "".join(row + "\n" for row in rows)




def poison_weights(ckpt: Path, value: float) -> str:
    """Set the first weight of the first float tensor to ``value``; re-sign; its name."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(ckpt / "model.safetensors", framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(ckpt / "model.safetensors")
    name = sorted(n for n, t in tensors.items() if t.is_floating_point())[0]
    tensors[name].view(-1)[0] = value
    save_file(tensors, ckpt / "model.safetensors", metadata=metadata)
    resign(ckpt)
    return name


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """Data and config files, and two tiny trained runs, that the cases name as ``{name}``."""
    root = tmp_path_factory.mktemp("data_config")
    files = {
        "corpus.txt": "to be or not to be, that is the question.\n" * 40,
        "train.csv": "label,text\n" + "".join(f"{lab},{t}\n" for t, lab in PAIRS),
        "src.txt": "ich bin hier .\ndu bist da .\n" * 10,
        "tgt.txt": "i am here .\nyou are there .\n" * 10,
        "deep.jsonl": _jsonl('{"text": ' + DEEP + ', "label": "pos"}\n'),
        "hugeint.jsonl": _jsonl('{"text": "a", "label": ' + HUGE + "}\n"),
        "deep.json": '{"model": ' + DEEP + "}",
        "deep.toml": "x = " + DEEP + "\n",
        "labels_list.jsonl": _jsonl(labels=(["pos"], "neg")),
        "labels_dict.jsonl": _jsonl(labels=({"x": 1}, "neg")),
        "labels_nan.jsonl": _jsonl('{"text": "a", "label": NaN}\n'),
        "labels_inf.jsonl": _jsonl('{"text": "a", "label": -Infinity}\n'),
        "labels_float.jsonl": _jsonl(labels=(1.5, 2.5)),
        "labels_bool.jsonl": _jsonl(labels=(True, False)),
        "labels_int.jsonl": _jsonl(labels=(1, 0.0)),
    }
    configs = {
        "c_classes": {"data": {"classes": 5}},
        "c_labelcol": {"data": {"label_col": 1.5}},
        "c_textcols": {"data": {"text_cols": [None]}},
        "c_val": {"data": {"val": 5}},
        "c_train": {"data": {"train": 5}},
        "c_encoder": {"data": {"encoder_from": 5}},
        "c_embeddings": {"data": {"embeddings": 5}},
        "c_source": {"data": {"source": 5}},
        "c_bidir": {"model": {"bidirectional": "no"}},
        "c_skip": {"data": {"skip_bad_rows": "no"}},
        "c_header": {"data": {"header": "no"}},
        "c_lower": {"data": {"lowercase": "yes"}},
        "c_progress": {"trainer": {"progress": "no"}},
        "c_best": {"trainer": {"restore_best": 1}},
        "c_modle": {"modle": {"hidden_size": 8}},
        "c_s2s_lower": {"data": {"lowercase": "no"}},
        "c_feeding": {"model": {"input_feeding": "x"}},
    }
    for name, content in files.items():
        (root / name).write_text(content, encoding="utf-8")
    for name, content in configs.items():
        (root / f"{name}.json").write_text(json.dumps(content))
    (root / "c_hugeint.json").write_text('{"trainer": {"seed": ' + HUGE + "}}")
    configs["c_hugeint"] = {}
    names = {k: str(root / k) for k in files} | {k: str(root / f"{k}.json") for k in configs}
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "lm", "--corpus", names["corpus.txt"], "--steps", "4", "--hidden", "8",
                     "--layers", "1", "--embed", "4", "--seq-len", "8", "--batch-size", "4",
                     "--out", str(root / "lm"), "--no-progress"]) == 0  # fmt: skip
        assert main(["train", "classify", "--train", names["train.csv"], "--steps", "4",
                     "--hidden", "8", "--embed", "4", "--batch-size", "8", "--embeddings", "none",
                     "--out", str(root / "clf"), "--no-progress"]) == 0  # fmt: skip
    return names | {"root": str(root), "lm": str(root / "lm"), "clf": str(root / "clf")}


LM = ["train", "lm", "--corpus", "{corpus.txt}", "--hidden", "8", "--layers", "1", "--embed", "4",
      "--seq-len", "8", "--batch-size", "4", "--no-progress", "--steps", "2", "--out", "{out}"]  # fmt: skip
CLF = ["train", "classify", "--train", "{train.csv}", "--hidden", "8", "--embed", "4",
       "--batch-size", "8", "--no-progress", "--steps", "2", "--embeddings", "none", "--out", "{out}"]  # fmt: skip
S2S = ["train", "seq2seq", "--source", "{src.txt}", "--target", "{tgt.txt}", "--hidden", "8",
       "--embed", "4", "--encoder-hidden-size", "8", "--attention-size", "8", "--batch-size", "8",
       "--min-freq", "1", "--no-progress", "--steps", "2", "--out", "{out}"]  # fmt: skip


def _train(base: list[str], data: str) -> list[str]:
    """``base`` reading ``data`` as its training file."""
    return [*base[:3], data, *base[4:]]


def _without(base: list[str], flag: str) -> list[str]:
    """``base`` without ``flag`` (and its value, unless it is a --no- switch): the file's
    value must not be overridden."""
    at = base.index(flag)
    return base[:at] + base[at + (1 if flag.startswith("--no-") else 2) :]


# (argv, names (one must appear), phrases (one must appear), id)
CASES: list[tuple[list[str], set[str], set[str], str]] = [
    (_train(CLF, "{deep.jsonl}"), {"deep.jsonl:1"}, {"nested too deeply"}, "clf train deep jsonl"),
    ([*CLF, "--val", "{deep.jsonl}"], {"deep.jsonl:1"}, {"nested too deeply"}, "clf val deep jsonl"),
    ([*CLF, "--test", "{deep.jsonl}"], {"deep.jsonl:1"}, {"nested too deeply"}, "clf test deep jsonl"),
    (["evaluate", "{clf}", "--data", "{deep.jsonl}"], {"deep.jsonl:1"}, {"nested too deeply"}, "evaluate clf deep jsonl"),
    (["evaluate", "{lm}", "--data", "{deep.jsonl}"], {"deep.jsonl:1"}, {"nested too deeply"}, "evaluate lm deep jsonl"),
    ([*LM, "--config", "{deep.json}"], {"deep.json"}, {"nested too deeply"}, "config deep json"),
    ([*LM, "--config", "{deep.toml}"], {"deep.toml"}, {"nested too deeply"}, "config deep toml"),
    ([*LM, "--config", "{c_hugeint}"], {"c_hugeint.json"}, {"4,300 digits"}, "config huge int"),
    (_train(CLF, "{hugeint.jsonl}"), {"hugeint.jsonl:1"}, {"4,300 digits"}, "clf train huge int"),
    (["evaluate", "{clf}", "--data", "{hugeint.jsonl}"], {"hugeint.jsonl:1"}, {"4,300 digits"}, "evaluate clf huge int"),
    ([*CLF, "--config", "{c_classes}"], {"classes"}, {"=5"}, "config classes 5"),
    ([*CLF, "--config", "{c_labelcol}"], {"label_col"}, {"1.5"}, "config label_col 1.5"),
    ([*CLF, "--config", "{c_textcols}"], {"text_cols"}, {"[None]"}, "config text_cols null"),
    ([*CLF, "--config", "{c_val}"], {"val"}, {"=5"}, "config val 5"),
    (CLF[:2] + CLF[4:] + ["--config", "{c_train}"], {"train"}, {"=5"}, "config train 5"),
    ([*CLF, "--config", "{c_encoder}"], {"encoder_from"}, {"=5"}, "config encoder_from 5"),
    ([*_without(CLF, "--embeddings"), "--config", "{c_embeddings}"], {"embeddings"}, {"=5"}, "config embeddings 5"),
    (S2S[:2] + S2S[6:] + ["--config", "{c_source}"], {"source"}, {"=5"}, "config seq2seq source 5"),
    ([*CLF, "--config", "{c_bidir}"], {"bidirectional"}, {"'no'"}, "config bidirectional no"),
    ([*CLF, "--config", "{c_skip}"], {"skip_bad_rows"}, {"'no'"}, "config skip_bad_rows no"),
    ([*CLF, "--config", "{c_header}"], {"header"}, {"'no'"}, "config header no"),
    ([*LM, "--config", "{c_lower}"], {"lowercase"}, {"'yes'"}, "config lm lowercase yes"),
    ([*_without(LM, "--no-progress"), "--config", "{c_progress}"], {"progress"}, {"'no'"}, "config progress no"),
    ([*CLF, "--config", "{c_best}"], {"restore_best"}, {"=1"}, "config restore_best 1"),
    ([*S2S, "--config", "{c_feeding}"], {"input_feeding"}, {"'x'"}, "config input_feeding x"),
    ([*S2S, "--config", "{c_s2s_lower}"], {"lowercase="}, {"'no'"}, "config seq2seq lowercase no"),
    ([*LM, "--config", "{c_modle}"], {"modle"}, {"unknown section"}, "config misspelt section"),
    (_train(CLF, "{labels_list.jsonl}"), {"labels_list.jsonl:1"}, {"['pos']"}, "jsonl label list"),
    (_train(CLF, "{labels_dict.jsonl}"), {"labels_dict.jsonl:1"}, {"{'x': 1}"}, "jsonl label dict"),
    (_train(CLF, "{labels_nan.jsonl}"), {"labels_nan.jsonl:1"}, {"nan"}, "jsonl label nan"),
    (_train(CLF, "{labels_inf.jsonl}"), {"labels_inf.jsonl:1"}, {"-inf"}, "jsonl label inf"),
    (_train(CLF, "{labels_float.jsonl}"), {"labels_float.jsonl:1"}, {"regression"}, "jsonl label 1.5"),
    (_train(CLF, "{labels_bool.jsonl}"), {"labels_bool.jsonl:1"}, {"boolean"}, "jsonl label true"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "names", "phrases"), [pytest.param(*c[:3], id=c[3]) for c in CASES]
)
def test_bad_data_or_config_is_one_line(
    argv, names, phrases, world, tmp_path: Path, capsys
) -> None:
    code, _, err = run_cli(fill(argv, world | {"out": str(tmp_path / "run")}), capsys)
    line = check_one_line(code, err, names, phrases)
    assert "lower=" not in line  # seq2seq's lowercase was reported as its tokenizer's "lower"
    assert not (tmp_path / "run" / "config.json").exists()  # refused before training started


def test_a_config_value_error_names_the_file_and_section(world, tmp_path: Path, capsys) -> None:
    argv = fill([*CLF, "--config", "{c_bidir}"], world | {"out": str(tmp_path / "run")})
    _, _, err = run_cli(argv, capsys)
    assert f"{world['c_bidir']}: [model] bidirectional='no': expected True or False" in err


def test_integer_json_labels_are_classes(world, tmp_path: Path, capsys) -> None:
    argv = fill(_train(CLF, "{labels_int.jsonl}"), world | {"out": str(tmp_path / "run")})
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["labels"]["names"] == ["0", "1"]  # 1 and 0.0


def test_a_run_config_json_still_works_as_config(world, tmp_path: Path, capsys) -> None:
    argv = fill(
        [*CLF, "--config", str(Path(world["clf"]) / "config.json")],
        world | {"out": str(tmp_path / "run")},
    )
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err


# ---- damaged runs under --resume: refused at the start, in one line


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


DAMAGE = {
    "config.json not JSON": (lambda run: (run / "config.json").write_text("{x"), "config.json", "not valid json"),
    "config.json a list": (lambda run: (run / "config.json").write_text("[1]"), "config.json", "holds a list"),
    "config.json deep": (lambda run: (run / "config.json").write_text(DEEP), "config.json", "nested too deeply"),
    "metrics not UTF-8": (lambda run: _append(run / "metrics.jsonl", b"\xff\xfe{garbage\n"), "metrics.jsonl:2", "utf-8"),
    "metrics deep": (lambda run: _append(run / "metrics.jsonl", DEEP.encode() + b"\n"), "metrics.jsonl:2", "nested too deeply"),
    "metrics a list": (lambda run: _append(run / "metrics.jsonl", b"[1]\n"), "metrics.jsonl:2", "a json list"),
    "metrics step text": (lambda run: _append(run / "metrics.jsonl", b'{"step": "x"}\n'), "metrics.jsonl:2", "not an int"),
    "metrics a directory": (lambda run: ((run / "metrics.jsonl").unlink(), (run / "metrics.jsonl").mkdir()), "metrics.jsonl", "not a file"),
    "last a file": (lambda run: (shutil.rmtree(run / "last"), (run / "last").write_text("x")), "last", "is a file"),
    "last foreign": (lambda run: (shutil.rmtree(run / "last"), (run / "last").mkdir(), (run / "last" / "x").write_text("x")), "last", "no manifest"),
    "last manifest deep": (lambda run: (run / "last" / "manifest.json").write_text('{"files": ' + DEEP + "}"), "manifest.json", "nested too deeply"),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_refuses_a_damaged_run_at_once(damage: str, world, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(world["lm"], run)
    alter, name, phrase = DAMAGE[damage]
    alter(run)
    before = sorted(p.name for p in run.iterdir())
    code, _, err = run_cli(fill([*LM[:-3], "6", "--out", str(run), "--resume"], world), capsys)
    check_one_line(code, err, {name}, {phrase})
    assert sorted(p.name for p in run.iterdir()) == before  # nothing trained, nothing written


def test_resume_after_a_torn_metrics_line_still_works(world, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(world["lm"], run)
    _append(run / "metrics.jsonl", '{"step": 9, "note": "caf\u00e9'.encode()[:-1])  # cut inside é
    code, _, err = run_cli(fill([*LM[:-3], "6", "--out", str(run), "--resume"], world), capsys)
    assert code == 0, err
    assert all(
        json.loads(line)["step"] <= 6 for line in (run / "metrics.jsonl").read_text().splitlines()
    )


# ---- checkpoints altered and re-signed


@pytest.mark.parametrize(("run", "command"), [("lm", ["generate", "{ckpt}", "--length", "3"]),
                                              ("clf", ["predict", "{ckpt}", "a fine film"])])  # fmt: skip
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(
    run: str, command, value, world, tmp_path: Path, capsys
) -> None:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(Path(world[run]) / "best", ckpt)
    name = poison_weights(ckpt, value)
    code, out, err = run_cli(fill(command, {"ckpt": str(ckpt)}), capsys)
    check_one_line(code, err, {"model.safetensors"}, {f"'{name}' holds nan or infinite"})
    assert out == ""


@pytest.mark.parametrize("file", ["manifest.json", "config.json", "vocab.json"])
def test_deeply_nested_checkpoint_files_are_refused(
    file: str, world, tmp_path: Path, capsys
) -> None:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(Path(world["lm"]) / "best", ckpt)
    (ckpt / file).write_text('{"x": ' + DEEP + "}")
    if file != "manifest.json":
        resign(ckpt)
    code, _, err = run_cli(["generate", str(ckpt), "--length", "3"], capsys)
    check_one_line(code, err, {file}, {"nested too deeply"})


@pytest.mark.parametrize(
    "labels",
    [{"names": [1, 2], "values": [1, 2]}, {"names": "ab", "values": "ab"},
     {"names": ["a", "a"], "values": ["x", "y"]}, {"names": ["a"], "values": ["x", "y"]}],
)  # fmt: skip
def test_tampered_classifier_labels_are_refused(labels, world, tmp_path: Path, capsys) -> None:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(Path(world["clf"]) / "best", ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps(config | {"labels": labels}))
    resign(ckpt)
    code, _, err = run_cli(["predict", str(ckpt), "a fine film"], capsys)
    check_one_line(code, err, {"config"}, {"names", "values"})


# ---- the same checks from Python


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ClassifierConfig(bidirectional="no"), "bidirectional='no': expected True or False"),
        (lambda: ClassifierConfig(freeze_embeddings=0), "freeze_embeddings=0: expected True or False"),
        (lambda: LMDataConfig(lowercase="yes"), "lowercase='yes': expected True or False"),
        (lambda: LMDataConfig(text_cols="text"), "text_cols='text': expected a list of str or int or None"),
        (lambda: ClassifyDataConfig(train="x.csv", skip_bad_rows="no"), "skip_bad_rows='no': expected True"),
        (lambda: ClassifyDataConfig(train="x.csv", label_col=1.5), "label_col=1.5: expected a str, an int or None"),
        (lambda: ClassifyDataConfig(train="x.csv", label_col=True), "label_col=True: expected a str, an int"),
        (lambda: ClassifyDataConfig(train=5), "train=5: expected a str"),
        (lambda: ClassifyDataConfig(train="x", text_cols=[None]), "text_cols=[None]: expected a list of str or int"),
        (lambda: TranslationDataConfig(source="a", lowercase="no"), "lowercase='no': expected True or False"),
        (lambda: TranslationDataConfig(source="a", max_vocab="9"), "max_vocab='9': expected an int or None"),
        (lambda: TranslationDataConfig(source="a", label_smoothing="0.1"), "label_smoothing='0.1': expected a number"),
        (lambda: Seq2SeqConfig(input_feeding="x"), "input_feeding='x': expected True or False"),
        (lambda: TrainerConfig(steps=5, progress="no"), "progress='no': expected True or False"),
        (lambda: TrainerConfig(steps=5, device=None), "device=None: expected a str"),
    ],
)  # fmt: skip
def test_config_fields_have_their_types(build, message: str) -> None:
    with pytest.raises(ArgumentTypeError) as info:
        build()
    assert str(info.value).startswith(message)
    assert isinstance(info.value, InvalidArgumentError) and isinstance(info.value, TypeError)


def test_config_types_accept_paths_and_column_indices() -> None:
    data = ClassifyDataConfig(
        train=Path("x.csv"), val=Path("v.csv"), text_cols=(1, "b"), label_col=0
    )
    assert data.train == "x.csv" and data.val == "v.csv" and isinstance(data.train, str)
    assert LMDataConfig(text_cols=[0]).text_cols == [0]
    assert TrainerConfig(steps=5, lr=1).lr == 1  # an int is a number
    check_types(data)  # idempotent


def test_parse_json_turns_every_failure_into_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_json(DEEP)
    with pytest.raises(ValueError, match="more than 4,300 digits"):
        parse_json(HUGE)
    with pytest.raises(json.JSONDecodeError):
        parse_json("{x")
    assert parse_json('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


@pytest.mark.parametrize(
    ("value", "label", "problem"),
    [("pos", "pos", None), (3, "3", None), (-2, "-2", None), (4.0, "4", None), (None, "", None),
     (["pos"], "", "array"), ({"x": 1}, "", "object"), (True, "", "boolean"),
     (float("nan"), "", "finite"), (1.5, "", "regression")],
)  # fmt: skip
def test_json_label(value, label: str, problem: str | None) -> None:
    got, why = json_label(value)
    assert got == label
    assert (why is None) if problem is None else (problem in why)


def test_bad_jsonl_labels_can_be_skipped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(_jsonl('{"text": "a", "label": ["x"]}\n{"text": "b", "label": 1e400}\n'))
    data = read_labelled(path, skip_bad_rows=True)
    assert len(data) == 40 and data.skipped == 2
    assert "mixed.jsonl:1: label ['x'] is an array" in data.skipped_examples[0]
    with pytest.raises(
        DataError, match=r"mixed\.jsonl:1: label \['x'\] is an array, not one class; expected"
    ):
        read_labelled(path)


@pytest.mark.parametrize(
    ("names", "values", "argument"),
    [([1, 2], [1, 2], "names"), ("ab", "ab", "names"), (["a", "b"], ["x", 2], "values"),
     (["a", "a"], ["x", "y"], "names"), (["a"], ["x", "x"], "values")],
)  # fmt: skip
def test_label_map_checks_its_lists(names, values, argument: str) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"^{argument}="):
        LabelMap(names, values)
    assert LabelMap(("a", "b"), ["x", "y"]).names == ["a", "b"]


def test_nan_weights_are_not_written(tmp_path: Path) -> None:
    from rnnkit.train.checkpoint import nonfinite_tensor, save_checkpoint

    state = {"ids": torch.tensor([1, 2]), "w": torch.tensor([0.0, float("-inf")])}
    assert nonfinite_tensor(state) == "w"
    assert nonfinite_tensor({"w": torch.zeros(3, dtype=torch.bfloat16)}) is None
    with pytest.raises(InvalidArgumentError, match=r"state_dict\['w'\]"):
        save_checkpoint(tmp_path / "c", state, {"task": "x"}, None)
    assert not (tmp_path / "c").exists()
