"""A corpus of bad command lines: each must end with exit status 2 and ONE line on stderr.

Every case runs ``rnnkit.cli.main.main(argv)`` in-process (an alarm turns a hang into a
failure) and checks: status 2, exactly one stderr line, no traceback, and that the line names
the flag or argument and the value given (or the real problem, for paths). Numbers are
checked before any data is read: the training cases point at data that would take long to
read, so a late check shows up as a slow case. A few cases run as real subprocesses.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runs import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import main

TEXT = "to be or not to be, that is the question.\n" * 40
ROWS = "".join(f"{label},{text}\n" for label, text in [("pos", "a fine film"), ("neg", "dull and long")] * 20)  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """Files, folders and two tiny trained runs that the cases refer to as ``{name}``."""
    root = tmp_path_factory.mktemp("bad")
    paths: dict[str, Path] = {}

    def write(name: str, content: str | bytes) -> None:
        paths[name] = root / name
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            paths[name].write_bytes(content)
        else:
            paths[name].write_text(content, encoding="utf-8")

    write("corpus.txt", TEXT)
    write("train.csv", "label,text\n" + ROWS)
    write("train.jsonl", "".join(json.dumps({"text": t, "label": lab}) + "\n" for lab, t in
                                 [("pos", "a fine film"), ("neg", "dull and long")] * 20))  # fmt: skip
    write("surrogate.jsonl", paths["train.jsonl"].read_text() + '{"text": "bad \\ud800 text", "label": "pos"}\n')  # fmt: skip
    write("badjson.jsonl", '{"text": "a", "label": "pos"}\n{"text": \n')
    write("ragged.csv", "label,text\npos,a fine film\nneg,dull,and,long\n")
    write("header_only.csv", "label,text\n")
    write("classes.txt", "neg\npos\n")
    write("classes_empty.txt", "\n")
    write("vectors.txt", "fine 1 0 0\nfilm 0 1 0\ndull 0 0 1\nlong 1 1 0\n")
    write("vectors_nan.txt", "fine 1 0 0\nfilm nan 1 0\n")
    write("vectors_inf.txt", "fine 1 0 0\nfilm 0 inf 0\n")
    write("vectors_huge.txt", "fine 1e39 0 0\n")
    write("config_malformed.json", '{"model": {"hidden_size": 8,')
    write("config_malformed.toml", "[model\nhidden_size = 8\n")
    write("config_unknown.json", json.dumps({"model": {"hiden_size": 8}}))
    write("config_task.json", json.dumps({"task": "classify"}))
    write("config_list.json", "[1, 2]")
    write("config_lr.json", json.dumps({"trainer": {"lr": "fast"}}))
    write("config_nan.toml", "[model]\ndropout = nan\n")
    write("texts.txt", "a fine film\ndull\n")
    write("empty.txt", "")
    write("binary.txt", b"\x00\x01\x02" * 50)
    write("latin1.txt", "caf\xe9 au lait\n".encode("latin-1") * 20)
    for name in ("empty_dir", "run_like/notes"):
        (root / name).mkdir(parents=True)
        paths[name] = root / name
    paths["fifo"] = root / "fifo"
    os.mkfifo(paths["fifo"])
    paths["dangling"] = root / "dangling"
    paths["dangling"].symlink_to(root / "nowhere")
    (root / "run_like" / "notes" / "x.txt").write_text("not a run\n")
    paths["run_like"] = root / "run_like"

    lm = root / "lm"
    clf = root / "clf"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "lm", "--corpus", str(paths["corpus.txt"]), "--steps", "4",
                     "--hidden", "8", "--layers", "1", "--embed", "4", "--seq-len", "8",
                     "--batch-size", "4", "--out", str(lm), "--no-progress"]) == 0  # fmt: skip
        assert main(["train", "classify", "--train", str(paths["train.csv"]), "--steps", "4",
                     "--hidden", "8", "--embed", "4", "--batch-size", "8", "--out", str(clf),
                     "--no-progress"]) == 0  # fmt: skip
        for name, extra in (("lm_word", ["--corpus", str(paths["corpus.txt"])]),
                            ("lm_glove", ["--corpus", str(paths["train.csv"]), "--tokenizer", "glove"])):
            assert main(["train", "lm", *extra, "--level", "word", "--steps", "2", "--hidden", "8",
                         "--layers", "1", "--embed", "4", "--seq-len", "4", "--batch-size", "4",
                         "--out", str(root / name), "--no-progress"]) == 0  # fmt: skip
            paths[name] = root / name
    paths["lm"], paths["clf"] = lm, clf
    names = {k: str(v) for k, v in paths.items()}
    names |= {
        "root": str(root),
        "missing": str(root / "missing.txt"),
        "under_file": str(paths["corpus.txt"] / "x.txt"),
        "out_under_file": str(paths["corpus.txt"] / "run"),
    }
    return names


LM = ["train", "lm", "--corpus", "{corpus.txt}", "--hidden", "8", "--layers", "1", "--embed", "4",
      "--seq-len", "8", "--batch-size", "4", "--no-progress", "--out", "{out}"]  # fmt: skip
CLF = ["train", "classify", "--train", "{train.csv}", "--hidden", "8", "--embed", "4",
       "--batch-size", "8", "--no-progress", "--out", "{out}"]  # fmt: skip
GEN = ["generate", "{lm}", "--length", "5"]
PREDICT = ["predict", "{clf}"]
SIMILAR = ["similar", "{vectors.txt}", "fine"]

INT_BAD = ["-1", "abc", "1.5", "99999999999999999999999"]
FLOAT_BAD = ["-1", "nan", "inf", "-inf", "1e999", "abc"]
BUDGET = ["--steps", "2"]

# (base command, flag, bad values); the base gets the flag appended, so the last one wins.
NUMERIC: list[tuple[list[str], str, list[str]]] = [
    (LM + BUDGET, "--seq-len", [*INT_BAD, "0", "1000000000"]),
    (LM + BUDGET, "--batch-size", [*INT_BAD, "0", "1000000000"]),
    (LM + BUDGET, "--val-fraction", [*FLOAT_BAD, "0", "0.5", "1"]),
    (LM + BUDGET, "--max-tokens", ["-1", "0", "2", "abc"]),
    (LM + BUDGET, "--layers", [*INT_BAD, "0", "100000"]),
    (LM + BUDGET, "--hidden", [*INT_BAD, "0", "100000"]),
    (LM + BUDGET, "--embed", ["-1", "abc", "100000"]),
    (LM + BUDGET, "--dropout", [*FLOAT_BAD, "1"]),
    (LM, "--epochs", ["-1", "0", "abc", "1.5"]),
    (LM, "--steps", ["-1", "0", "abc", "1e9"]),
    (LM, "--minutes", [*FLOAT_BAD, "0"]),
    (LM + BUDGET, "--lr", [*FLOAT_BAD, "0", "1e6"]),
    (LM + BUDGET, "--weight-decay", ["-1", "nan", "inf"]),
    (LM + BUDGET, "--clip-norm", ["-1", "nan", "inf"]),
    (LM + BUDGET, "--warmup-steps", ["-10", "abc", "1e9"]),
    (LM + BUDGET, "--eval-every", ["-5", "abc"]),
    (LM + BUDGET, "--patience", ["-1", "abc"]),
    (LM + BUDGET, "--seed", ["-1", str(2**64), "abc"]),
    (CLF + BUDGET, "--vocab-size", ["-1", "0", "2", "abc"]),
    (CLF + BUDGET, "--max-len", ["-1", "0", "abc", "1000000000000"]),
    (CLF + BUDGET, "--batch-size", ["0", "-3", "1000000000"]),
    (CLF + BUDGET, "--val-fraction", ["0", "1", "nan", "inf", "-0.1"]),
    (CLF + BUDGET, "--hidden", ["0", "100000"]),
    (CLF + BUDGET, "--layers", ["0", "100000"]),
    (CLF + BUDGET, "--embed", ["0", "-4", "100000"]),
    (CLF + BUDGET, "--attention-size", ["0", "-1"]),
    (CLF + BUDGET, "--dropout", ["nan", "1", "-0.5"]),
    (CLF + BUDGET, "--embedding-dropout", ["nan", "inf", "1.5"]),
    (CLF + BUDGET, "--lr", ["nan", "-1"]),
    (CLF + BUDGET, "--warmup-steps", ["-10"]),
    (CLF + BUDGET, "--seed", [str(2**64)]),
    (CLF, "--minutes", ["inf", "nan"]),
    (GEN, "--length", ["-1", "0", "abc", "1000000000"]),
    (GEN, "--temperature", [*FLOAT_BAD, "0", "1e-320"]),
    (GEN, "--top-k", ["0", "-1", "abc"]),
    (GEN, "--top-p", ["0", "1.5", "nan", "inf", "-0.5", "1e-320"]),
    (GEN, "--beam", ["0", "-2", "1000000000"]),
    ([*GEN, "--beam", "2"], "--length-penalty", ["nan", "inf", "-inf", "1e308", "-1e308"]),
    (GEN, "--num-samples", ["0", "-1", "1e9", "1000000000"]),
    (GEN, "--seed", ["-1", str(2**64)]),
    ([*PREDICT, "a text"], "--batch-size", ["0", "-1", "abc"]),
    (SIMILAR, "--top", ["0", "-1", "abc"]),
    (SIMILAR, "--limit", ["0", "-1", "abc"]),
]


def _renderings(value: str) -> set[str]:
    """Ways a message may show ``value``: as typed, or as the int/float argparse made of it."""
    shown = {value}
    with contextlib.suppress(ValueError):
        shown.add(repr(float(value)))
        shown.add(str(int(float(value))) if float(value).is_integer() else value)
    with contextlib.suppress(ValueError):
        shown.add(str(int(value)))
    return shown


ALIASES = {"--hidden": "hidden_size", "--layers": "num_layers", "--embed": "embedding_size",
           "--text-col": "text_cols"}  # fmt: skip


def _names(flag: str) -> set[str]:
    return {flag, flag.lstrip("-").replace("-", "_"), ALIASES.get(flag, flag)}


CASES: list[pytest.param] = [
    pytest.param([*base, flag, value], _names(flag), _renderings(value), id=f"{base[0]}{'-' + base[1] if base[0] == 'train' else ''} {flag} {value}")
    for base, flag, value_list in NUMERIC
    for value in value_list
]  # fmt: skip

# (argv, names (one must appear), phrases (one must appear), id)
FILES: list[tuple[list[str], set[str], set[str], str]] = [
    ([*LM[:3], "", *LM[4:], *BUDGET], {"corpus"}, {"empty path"}, "lm corpus empty"),
    ([*LM[:3], "{missing}", *LM[4:], *BUDGET], {"corpus"}, {"does not exist"}, "lm corpus missing"),
    ([*LM[:3], "{empty_dir}", *LM[4:], *BUDGET], {"corpus"}, {"is a directory"}, "lm corpus dir"),
    ([*LM[:3], "{under_file}", *LM[4:], *BUDGET], {"corpus"}, {"which is a file"}, "lm corpus under a file"),
    ([*LM[:3], "{fifo}", *LM[4:], *BUDGET], {"corpus"}, {"not a regular file"}, "lm corpus fifo"),
    ([*LM[:3], "{dangling}", *LM[4:], *BUDGET], {"corpus"}, {"broken symbolic link"}, "lm corpus dangling link"),
    ([*LM[:3], "/dev/null", *LM[4:], *BUDGET], {"corpus"}, {"not a regular file"}, "lm corpus device"),
    ([*LM[:3], "{empty.txt}", *LM[4:], *BUDGET], {"corpus"}, {"empty"}, "lm corpus empty file"),
    ([*LM[:3], "{binary.txt}", *LM[4:], *BUDGET], {"corpus"}, {"binary"}, "lm corpus binary"),
    ([*LM[:3], "{latin1.txt}", *LM[4:], *BUDGET], {"corpus"}, {"not utf-8"}, "lm corpus latin1"),
    (LM + BUDGET + ["--val-corpus", "{missing}"], {"val_corpus", "val-corpus"}, {"does not exist"}, "lm val-corpus missing"),
    (LM + BUDGET + ["--val-corpus", ""], {"val_corpus", "val-corpus"}, {"empty path"}, "lm val-corpus empty"),
    ([*LM[:-1], "{corpus.txt}", *BUDGET], {"out"}, {"is a file"}, "lm out is a file"),
    ([*LM[:-1], "{out_under_file}", *BUDGET], {"out"}, {"which is a file"}, "lm out under a file"),
    ([*LM[:-1], "", *BUDGET], {"out"}, {"empty path"}, "lm out empty"),
    ([*LM[:-1], "/proc/rnnkit-run", *BUDGET], {"out"}, {"not writable"}, "lm out not writable"),
    ([*LM[:-1], "{run_like}", *BUDGET], {"out"}, {"no rnnkit"}, "lm out holds other files"),
    ([*LM[:-1], "{lm}", *BUDGET], {"out"}, {"already holds a run"}, "lm out holds a run"),
    ([*CLF[:-1], "{lm_copy}", "--resume", *BUDGET], {"resume", "task"}, {"'lm'"}, "resume lm run as classifier"),
    ([*LM[:-1], "{clf_copy}", "--resume", *BUDGET], {"resume", "task"}, {"'classify'"}, "resume classifier run as lm"),
    ([*CLF[:3], "", *CLF[4:], *BUDGET], {"train"}, {"empty path"}, "clf train empty"),
    ([*CLF[:3], "{missing}", *CLF[4:], *BUDGET], {"train"}, {"does not exist", "no such file"}, "clf train missing"),
    ([*CLF[:3], "{empty_dir}", *CLF[4:], *BUDGET, "--format", "csv"], {"train", "format"}, {"is a directory"}, "clf empty dir as csv"),
    ([*CLF[:3], "{empty_dir}", *CLF[4:], *BUDGET], {"train"}, {"no rows", "no class"}, "clf empty folder"),
    ([*CLF[:3], "{fifo}", *CLF[4:], *BUDGET, "--format", "csv"], {"train"}, {"not a regular file"}, "clf train fifo"),
    ([*CLF[:3], "{header_only.csv}", *CLF[4:], *BUDGET], {"header_only"}, {"no rows"}, "clf header only"),
    ([*CLF[:3], "{ragged.csv}", *CLF[4:], *BUDGET], {"ragged.csv:3"}, {"fields"}, "clf ragged csv"),
    ([*CLF[:3], "{surrogate.jsonl}", *CLF[4:], *BUDGET], {"surrogate.jsonl:41"}, {"surrogate"}, "clf jsonl lone surrogate"),
    ([*CLF[:3], "{badjson.jsonl}", *CLF[4:], *BUDGET], {"badjson.jsonl:2"}, {"json"}, "clf jsonl invalid"),
    ([*CLF[:3], "{latin1.txt}", *CLF[4:], *BUDGET, "--format", "csv"], {"latin1.txt"}, {"utf-8"}, "clf latin1"),
    (CLF + BUDGET + ["--text-col", "label", "--label-col", "label"], {"text_col", "text-col"}, {"label"}, "clf text-col is label-col"),
    (CLF + BUDGET + ["--text-col", "body"], {"text_col", "text-col"}, {"body"}, "clf text-col unknown"),
    (CLF + BUDGET + ["--label-col", "9"], {"label_col", "label-col"}, {"9"}, "clf label-col out of range"),
    (CLF + BUDGET + ["--classes", "{missing}"], {"classes"}, {"does not exist"}, "clf classes missing"),
    (CLF + BUDGET + ["--classes", "{empty_dir}"], {"classes"}, {"is a directory"}, "clf classes dir"),
    (CLF + BUDGET + ["--classes", ""], {"classes"}, {"empty path"}, "clf classes empty path"),
    (CLF + BUDGET + ["--classes", "{classes_empty.txt}"], {"classes"}, {"0 class names"}, "clf classes empty file"),
    (CLF + BUDGET + ["--embeddings", "{missing}"], {"embeddings"}, {"does not exist"}, "clf embeddings missing"),
    (CLF + BUDGET + ["--embeddings", "{vectors_nan.txt}"], {"vectors_nan.txt:2"}, {"nan", "finite"}, "clf embeddings nan"),
    (CLF + BUDGET + ["--embeddings", "{vectors_inf.txt}"], {"vectors_inf.txt:2"}, {"inf", "finite"}, "clf embeddings inf"),
    (CLF + BUDGET + ["--test", "{missing}"], {"test"}, {"does not exist"}, "clf test missing"),
    (CLF + BUDGET + ["--val", "{empty_dir}", "--format", "csv"], {"val"}, {"is a directory"}, "clf val dir as csv"),
    ([*CLF[:-1], "{train.csv}", *BUDGET], {"out"}, {"is a file"}, "clf out is a file"),
    ([*CLF[:-1], "{out_under_file}", *BUDGET], {"out"}, {"which is a file"}, "clf out under a file"),
    (["generate", "{missing}"], {"missing.txt"}, {"does not exist"}, "generate missing dir"),
    (["generate", ""], {"dir", "''"}, {"empty path"}, "generate empty dir"),
    (["generate", "{clf}"], {"clf"}, {"classif"}, "generate from a classifier"),
    (["generate", "{corpus.txt}"], {"corpus.txt"}, {"checkpoint"}, "generate from a file"),
    (["generate", "{empty_dir}"], {"empty_dir"}, {"checkpoint"}, "generate from an empty dir"),
    (["generate", "{lm_tampered_hidden}"], {"config.json"}, {"shape"}, "generate tampered hidden"),
    (["generate", "{lm_tampered_key}"], {"config.json"}, {"lacks ['hidden_size']"}, "generate tampered missing key"),
    (["generate", "{lm_tampered_tensor}"], {"decoder.bias"}, {"shape"}, "generate tampered tensor"),
    (["generate", "{lm_tampered_huge}"], {"hidden_size"}, {"100000"}, "generate tampered huge hidden"),
    (["generate", "{lm}", "--prompt", "xyzΩ"], {"prompt"}, {"unknown"}, "generate unknown prompt"),
    (["generate", "{lm}", "--expect-sha256", "0" * 64], {"expect-sha256", "expect_sha256"}, {"0000"}, "generate wrong sha"),
    (["generate", "{lm}", "--expect-sha256", "xyz"], {"expect-sha256", "expect_sha256"}, {"xyz"}, "generate malformed sha"),
    (["predict", "{lm}", "a text"], {"lm"}, {"'lm'"}, "predict with a language model"),
    (["predict", "{missing}", "a text"], {"missing.txt"}, {"does not exist"}, "predict missing dir"),
    (["predict", "{clf}", "--file", "{missing}"], {"file"}, {"does not exist"}, "predict file missing"),
    (["predict", "{clf}", "--file", "{empty_dir}"], {"file"}, {"is a directory"}, "predict file dir"),
    (["predict", "{clf}", "--file", ""], {"file"}, {"empty path"}, "predict file empty path"),
    (["predict", "{clf}", "--file", "{empty.txt}"], {"empty.txt"}, {"empty"}, "predict file empty"),
    (["predict", "{clf}", "--file", "{binary.txt}"], {"binary.txt"}, {"utf-8", "binary"}, "predict file binary"),
    (["predict", "{clf}", "x", "--file", "{texts.txt}"], {"file"}, {"not both"}, "predict text and file"),
    (["predict", "{clf_tampered_tensor}", "a text"], {"shape"}, {"checkpoint"}, "predict tampered tensor"),
    (["predict", "{clf}", "--expect-sha256", "f" * 64, "a"], {"expect-sha256", "expect_sha256"}, {"ffff"}, "predict wrong sha"),
    (["evaluate", "{lm}", "--data", "{missing}"], {"data"}, {"does not exist"}, "evaluate lm data missing"),
    (["evaluate", "{lm}", "--data", ""], {"data"}, {"empty path"}, "evaluate lm data empty"),
    (["evaluate", "{lm}", "--data", "{empty_dir}"], {"data"}, {"is a directory"}, "evaluate lm data dir"),
    (["evaluate", "{clf}", "--data", "{missing}"], {"data"}, {"does not exist"}, "evaluate clf data missing"),
    (["evaluate", "{clf}", "--data", "{train.csv}", "--classes", "{missing}"], {"classes"}, {"does not exist"}, "evaluate classes missing"),
    (["evaluate", "{clf}", "--data", "{train.csv}", "--text-col", "nope"], {"text_col", "text-col"}, {"nope"}, "evaluate bad column"),
    (["evaluate", "{missing}", "--data", "{corpus.txt}"], {"missing.txt"}, {"does not exist"}, "evaluate missing run"),
    (["evaluate", "{lm}", "--data", "{corpus.txt}", "--expect-sha256", "a" * 64], {"expect-sha256", "expect_sha256"}, {"aaaa"}, "evaluate wrong sha"),
    (["similar", "{missing}", "fine"], {"missing.txt"}, {"does not exist"}, "similar missing"),
    (["similar", "", "fine"], {"vectors"}, {"empty path"}, "similar empty path"),
    (["similar", "{empty_dir}", "fine"], {"empty_dir"}, {"is a directory"}, "similar dir"),
    (["similar", "{vectors_nan.txt}", "fine"], {"vectors_nan.txt:2"}, {"nan", "finite"}, "similar nan vectors"),
    (["similar", "{vectors_inf.txt}", "fine"], {"vectors_inf.txt:2"}, {"inf", "finite"}, "similar inf vectors"),
    (["similar", "{vectors.txt}", "nope"], {"word"}, {"nope"}, "similar unknown word"),
    (["similar", "{vectors.txt}", "a", "b", "c"], {"word"}, {"'a'"}, "similar three words"),
    (LM + BUDGET + ["--device", "tpu"], {"--device"}, {"tpu"}, "lm device unknown"),
    (LM + BUDGET + ["--device", "cuda:x"], {"--device"}, {"cuda:x"}, "lm device malformed"),
    ([*GEN, "--stop", ""], {"stop"}, {"non-empty"}, "generate empty stop string"),
    ([*GEN[:-1], "1000000", "--num-samples", "1000"], {"num-samples"}, {"1000"}, "generate too many tokens"),
    (["predict", "{clf}", "caf\udce9"], {"argument"}, {"utf-8"}, "predict undecodable argument"),
    (["train", "lm", "--corpus", "x\udcff.txt"], {"argument"}, {"utf-8"}, "train undecodable path"),
    (["similar", "{vectors_huge.txt}", "fine"], {"vectors_huge.txt:1"}, {"overflow"}, "similar float32 overflow"),
    ([*LM, *BUDGET, "--level", "word", "--max-tokens", "3"], {"--max-tokens"}, {"3"}, "lm word max-tokens 3"),
    (["train", "lm", "--bogus"], {"--bogus"}, {"unrecognized"}, "unknown flag"),
    (["train", "lm", "--cell", "transformer"], {"--cell"}, {"transformer"}, "unknown cell"),
    (["train", "lm", "--level", "byte"], {"--level"}, {"byte"}, "unknown level"),
    (["train", "lm", "--steps", "1", "--epochs", "1"], {"--epochs"}, {"not allowed"}, "two budgets"),
    (LM + BUDGET + ["--config", "{missing}"], {"missing.txt"}, {"does not exist", "no such file"}, "config missing"),
    (LM + BUDGET + ["--config", "{empty_dir}"], {"empty_dir"}, {"is a directory"}, "config is a directory"),
    (LM + BUDGET + ["--config", "{config_malformed.json}"], {"config_malformed.json"}, {"not valid json"}, "config malformed json"),
    (LM + BUDGET + ["--config", "{config_malformed.toml}"], {"config_malformed.toml"}, {"not valid toml"}, "config malformed toml"),
    (LM + BUDGET + ["--config", "{binary.txt}"], {"binary.txt"}, {"not valid"}, "config binary"),
    (LM + BUDGET + ["--config", "{config_list.json}"], {"config_list.json"}, {"sections"}, "config not sections"),
    (LM + BUDGET + ["--config", "{config_unknown.json}"], {"hiden_size"}, {"unknown"}, "config unknown key"),
    (LM + BUDGET + ["--config", "{config_task.json}"], {"config"}, {"'classify'"}, "config of another task"),
    (LM + BUDGET + ["--config", "{config_lr.json}"], {"lr"}, {"fast"}, "config lr not a number"),
    (LM + BUDGET + ["--config", "{config_nan.toml}"], {"dropout"}, {"nan"}, "config dropout nan"),
    (LM + BUDGET + ["--tensorboard", "{out_under_file}"], {"tensorboard"}, {"which is a file"}, "tensorboard under a file"),
    (LM + BUDGET + ["--tensorboard", "{corpus.txt}"], {"tensorboard"}, {"is a file"}, "tensorboard is a file"),
    (LM + BUDGET + ["--implementation", "cudnn"], {"implementation"}, {"cudnn"}, "lm implementation unknown"),
    (LM + BUDGET + ["--proj-size", "8"], {"proj-size", "proj_size"}, {"8"}, "lm proj-size not below hidden"),
    (LM + BUDGET + ["--recurrent-dropout", "nan"], {"recurrent-dropout", "recurrent_dropout"}, {"nan"}, "lm recurrent-dropout nan"),
    (LM + BUDGET + ["--log-every", "0"], {"log-every", "log_every"}, {"0"}, "lm log-every 0"),
    (["export", "{missing}"], {"missing.txt"}, {"does not exist"}, "export missing run"),
    (["export", "{lm}", "--out", "{corpus.txt}/m.onnx"], {"out"}, {"which is a file"}, "export out under a file"),
    (["export", "{lm}", "--out", "{empty_dir}"], {"out"}, {"is a directory"}, "export out is a directory"),
    (["export", "{lm}", "--out", ""], {"out"}, {"empty path"}, "export out empty"),
    (["export", "{clf}", "--expect-sha256", "e" * 64], {"expect-sha256", "expect_sha256"}, {"eeee"}, "export wrong sha"),
    (["export", "{lm}", "--expect-sha256", "xyz"], {"expect-sha256", "expect_sha256"}, {"xyz"}, "export malformed sha"),
    (["inspect", "{missing}", "--text", "to be"], {"missing.txt"}, {"does not exist"}, "inspect missing run"),
    (["inspect", "{lm}", "--text", ""], {"text"}, {"empty"}, "inspect empty text"),
    (["inspect", "{clf}", "--text", "a", "--expect-sha256", "c" * 64], {"expect-sha256", "expect_sha256"}, {"cccc"}, "inspect wrong sha"),
    (["inspect", "{lm}", "--file", "{missing}"], {"missing.txt"}, {"does not exist"}, "inspect file missing"),
    (["inspect", "{lm}", "--text", "to be", "--top-k", "0"], {"top-k", "top_k"}, {"0"}, "inspect top-k 0"),
    (["inspect", "{clf}", "--text", "a fine film", "--ig-steps", "-1"], {"ig-steps", "ig_steps"}, {"-1"}, "inspect ig-steps -1"),
    (["inspect", "{lm}", "--text", "to be", "--max-tokens", "0"], {"max-tokens", "max_tokens"}, {"0"}, "inspect max-tokens 0"),
    (["inspect", "{lm}", "--text", "to be", "--layer", "7"], {"layer"}, {"7"}, "inspect layer out of range"),
    (["inspect", "{lm}", "--text", "to be", "--unit", "-1"], {"unit"}, {"-1"}, "inspect unit -1"),
    (["inspect", "{lm}", "--text", "to be", "--out", "{out_under_file}"], {"out"}, {"file"}, "inspect out under a file"),
    (["inspect", "{lm}", "--text", "to be", "--out", "{empty_dir}"], {"out"}, {"is a directory"}, "inspect out is a directory"),
    (["train", "lm", "--tie-weights", "--embed", "4", "--hidden", "8", "--steps", "1", "--out", "{out}"], {"tie_weights", "tie-weights"}, {"embedding_size"}, "tie weights sizes"),
    (CLF + BUDGET + ["--encoder-from", "{missing}"], {"encoder_from", "encoder-from"}, {"does not exist"}, "encoder-from missing"),
    (CLF + BUDGET + ["--encoder-from", "{lm}"], {"encoder"}, {"word-level"}, "encoder-from char level"),
    (CLF + BUDGET + ["--encoder-from", "{clf}"], {"encoder"}, {"'classify'"}, "encoder-from a classifier"),
    (CLF + BUDGET + ["--encoder-from", "{lm_tampered_tensor}"], {"encoder"}, {"shape"}, "encoder-from tampered"),
    (CLF + BUDGET + ["--encoder-from", "{lm_word}"], {"encoder"}, {"--tokenizer glove"}, "encoder-from whitespace tokens"),
    (CLF + BUDGET + ["--encoder-from", "{lm_glove}", "--bidirectional"], {"bidirectional"}, {"language model"}, "encoder-from bidirectional"),
    (CLF + BUDGET + ["--encoder-from", "{lm_glove}", "--hidden", "16"], {"hidden"}, {"language model"}, "encoder-from other hidden size"),
    (CLF + BUDGET + ["--encoder-from", "{lm_glove}", "--discriminative-lr", "0.5"], {"discriminative"}, {"0.5"}, "discriminative-lr below 1"),
    (LM + BUDGET + ["--tokenizer", "bpe"], {"tokenizer"}, {"bpe"}, "lm tokenizer unknown"),
    (LM + BUDGET + ["--tokenizer", "glove"], {"tokenizer"}, {"char level"}, "lm tokenizer at char level"),
    (LM + BUDGET + ["--embeddings", "default"], {"embeddings"}, {"char level"}, "lm embeddings at char level"),
    (LM + BUDGET + ["--format", "xml"], {"format"}, {"xml"}, "lm corpus format unknown"),
    ([*LM[:3], "{train.csv}", *LM[4:], *BUDGET, "--level", "word", "--text-col", "nope"], {"text_cols", "text-col"}, {"nope"}, "lm csv text column missing"),
    ([*LM[:3], "{header_only.csv}", *LM[4:], *BUDGET, "--level", "word"], {"header_only.csv"}, {"no rows"}, "lm csv without rows"),
    (LM + BUDGET + ["--level", "word", "--embeddings", "{missing}"], {"embeddings"}, {"does not exist"}, "lm embeddings missing"),
]  # fmt: skip

CASES += [pytest.param(argv, names, phrases, id=name) for argv, names, phrases, name in FILES]


def _tamper(src: Path, dst: Path, how: str) -> None:
    """Copy a run and alter its best/ so that the manifest still agrees with the files."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    ckpt = dst / "best"
    config = json.loads((ckpt / "config.json").read_text())
    if how == "hidden":
        config["model"]["hidden_size"] = 16
    elif how == "huge":
        config["model"]["hidden_size"] = 100000
    elif how == "key":
        del config["model"]["hidden_size"]
    (ckpt / "config.json").write_text(json.dumps(config))
    if how == "tensor":
        tensors = load_file(ckpt / "model.safetensors")
        name = "decoder.bias" if "decoder.bias" in tensors else "head.bias"
        tensors[name] = tensors[name][:-1].clone()
        save_file(tensors, ckpt / "model.safetensors", metadata={"format": "pt"})
    resign(ckpt)


def resign(ckpt: Path) -> None:
    """Rewrite a checkpoint's manifest hashes after an edit (what a tamperer can do) and drop
    its pin (manifest.sha256). Shared with the other bad-input test files."""
    manifest = json.loads((ckpt / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (ckpt / name).read_bytes()
        entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    (ckpt / "manifest.json").write_text(json.dumps(manifest))
    (ckpt / "manifest.sha256").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def tampered(world: dict[str, str], tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tampered")
    names = {}
    for how in ("hidden", "key", "tensor", "huge"):
        _tamper(Path(world["lm"]), root / f"lm_{how}", how)
        names[f"lm_tampered_{how}"] = str(root / f"lm_{how}")
    _tamper(Path(world["clf"]), root / "clf_tensor", "tensor")
    names["clf_tampered_tensor"] = str(root / "clf_tensor")
    return names




def fill(argv: list[str], values: dict[str, str]) -> list[str]:
    """``argv`` with each ``{name}`` replaced by ``values[name]`` (names may hold dots)."""
    return [re.sub(r"\{([\w.]+)\}", lambda m: values[m.group(1)], a) for a in argv]


def _normal(text: str) -> str:
    return text.lower().replace("-", "_")


def check_one_line(code: int, err: str, names: set[str], phrases: set[str]) -> str:
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stderr {err!r}"
    assert len(lines) == 1, lines
    line = lines[0]
    assert "Traceback" not in line
    assert any(_normal(n) in _normal(line) for n in names), f"no {names} in {line!r}"
    assert any(_normal(p) in _normal(line) for p in phrases), f"no {phrases} in {line!r}"
    return line


@pytest.mark.parametrize(("argv", "names", "phrases"), CASES)
def test_bad_input_is_one_line_and_status_2(
    argv: list[str], names: set[str], phrases: set[str], world, tampered, tmp_path: Path, capsys
) -> None:
    values = world | tampered | {"out": str(tmp_path / "run")}
    for copy in ("lm_copy", "clf_copy"):
        if any(f"{{{copy}}}" in a for a in argv):
            shutil.copytree(world[copy.removesuffix("_copy")], tmp_path / copy)
            values[copy] = str(tmp_path / copy)
    argv = fill(argv, values)
    code, _, err = run_cli(argv, capsys)
    check_one_line(code, err, names, phrases)
    if "--out" in argv and "--resume" not in argv and argv[argv.index("--out") + 1] == values["out"]:
        assert not (tmp_path / "run" / "config.json").exists()  # refused before anything started


def test_case_count() -> None:
    assert len(CASES) >= 150


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flag=st.sampled_from(["--lr", "--weight-decay", "--clip-norm", "--dropout", "--val-fraction", "--minutes"]),
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: v != v or abs(v) == float("inf") or v < 0),
        st.floats(min_value=1e6, max_value=1e300),
    ),
)  # fmt: skip
def test_hypothesis_bad_training_numbers(flag: str, value: float, world, tmp_path: Path, capsys) -> None:
    if flag in ("--weight-decay", "--clip-norm", "--minutes") and value >= 1e6 and value != float("inf"):
        return  # large finite values are legitimate there
    base = fill(LM, world | {"out": str(tmp_path / "h")})
    budget = [] if flag == "--minutes" else BUDGET
    code, _, err = run_cli([*base, *budget, flag, repr(value)], capsys)
    check_one_line(code, err, _names(flag), _renderings(repr(value)) | {"inf", "nan"})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flag=st.sampled_from(["--length", "--top-k", "--beam", "--num-samples", "--seed", "--length-penalty", "--temperature", "--top-p"]),
    value=st.one_of(st.integers(max_value=0), st.integers(min_value=2**63), st.sampled_from(["nan", "inf", "-inf"])),
)  # fmt: skip
def test_hypothesis_bad_generation_numbers(flag: str, value, world, capsys) -> None:
    if flag in ("--seed", "--length-penalty") and isinstance(value, int) and 0 <= value < 2**63:
        return  # seed 0 and length penalty 0 are fine
    if flag in ("--length-penalty", "--top-k", "--temperature") and isinstance(value, int) and value > 0:
        return  # a huge top-k means all tokens; a huge temperature, uniform sampling
    if flag == "--length-penalty" and isinstance(value, int):
        return
    code, _, err = run_cli(["generate", world["lm"], "--length", "3", flag, str(value)], capsys)
    check_one_line(code, err, _names(flag), _renderings(str(value)) | {"invalid"})


@pytest.mark.parametrize(
    "argv",
    [["predict", "{clf}", "--json", "a fine film"], ["predict", "{clf}", "a fine film", "--json", "dull"]],
)
def test_texts_after_options_are_texts(argv: list[str], world, capsys) -> None:
    code, out, err = run_cli(fill(argv, world), capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == [a for a in argv[2:] if a != "--json"]


def test_expect_sha256_accepts_the_pinned_checkpoint(world, capsys, tmp_path) -> None:
    pin = (Path(world["lm"]) / "best" / "manifest.sha256").read_text().split()[0]
    code, out, err = run_cli(["generate", world["lm"], "--length", "3", "--expect-sha256", pin], capsys)
    assert code == 0 and len(out) > 3, err
    page = tmp_path / "page.html"
    argv = ["inspect", world["lm"], "--text", "to be", "--out", str(page), "--expect-sha256", pin]
    code, out, err = run_cli(argv, capsys)
    assert code == 0 and page.stat().st_size > 0, err


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["train", "lm", "--seed", str(2**64), "--steps", "1"],
        ["generate", "{lm}", "--num-samples", "1000000000"],
        ["similar", "{fifo}", "x"],
    ],
)
def test_subprocess_one_line_and_no_hang(argv: list[str], world) -> None:
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit.cli.main", *fill(argv, world)],
        capture_output=True, text=True, timeout=60, env=env, cwd=world["root"],
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
