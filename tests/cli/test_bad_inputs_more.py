"""Bad command lines, third pass: each ends with exit status 2 and ONE stderr line.

The leftovers of the earlier passes (a sampling option with greedy decoding or beam search, a
word2vec header that miscounts its vectors, a word listed twice, skipped rows reported before
a fatal error) and what a further round of fuzzing found. The CLI runs in-process with the
helpers of ``test_bad_inputs.py`` against two tiny trained runs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from cli_runs import one_line, train_tiny

_spec = importlib.util.spec_from_file_location(
    "bad_inputs", Path(__file__).with_name("test_bad_inputs.py")
)
bad_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bad_inputs)  # type: ignore[union-attr]
run_cli, fill = bad_inputs.run_cli, bad_inputs.fill

ROWS = "".join(f"{label},{text}\n" for label, text in [("pos", "a fine film"), ("neg", "dull and long")] * 20)  # fmt: skip
VECTOR = np.ones(2, "<f4").tobytes()


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> dict[str, str]:
    """Files and two tiny runs (language model, classifier) that the cases name as ``{name}``."""
    root = tmp_path_factory.mktemp("more")
    files: dict[str, str | bytes] = {
        "corpus.txt": "to be or not to be, that is the question.\n" * 40,
        "train.csv": "label,text\n" + ROWS,
        "skip_one_class.csv": "label,text\n" + "pos,a fine film\n" * 30 + "neg,\n",
        "skip_test.csv": "label,text\npos,a fine film\npos,\nmeh,an unseen label\n",
        "w2v_fewer.vec": "3 2\nfine 1 0\nfilm 0 1\n",
        "w2v_more.bin": b"1 2\nfine " + VECTOR + b"\nfilm " + VECTOR + b"\n",
        "dup.txt": "fine 1 0\nfilm 0 1\nfine 2 2\n",
        "two_chars.txt": "ab",
        "dup_key.json": '{"model": {"hidden_size": 8, "hidden_size": 16}}',
        "unknown_key.toml": "[data]\ntrain = 'x.csv'\n",
    }
    paths = {"root": str(root)}
    for name, content in files.items():
        path = root / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        paths[name] = str(path)
    tiny = ["--steps", "2", "--no-progress", "--hidden", "8", "--embed", "4", "--batch-size", "8"]
    runs = {
        "lm": ["train", "lm", "--corpus", paths["corpus.txt"], "--layers", "1", "--seq-len", "8"],
        "clf": ["train", "classify", "--train", paths["train.csv"], "--embeddings", "none"],
    }
    return paths | train_tiny(root, runs, tiny)


LM = ["train", "lm", "--corpus", "{corpus.txt}", "--steps", "2", "--out", "{root}/{out}"]
CLF = ["train", "classify", "--steps", "2", "--hidden", "8", "--embed", "4", "--embeddings",
       "none", "--no-progress", "--out", "{root}/{out}"]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        # c. a sampling option with a decoding that does not sample
        (["generate", "{lm}", "--length", "3", "--greedy", "--temperature", "0.5"], ["--temperature=0.5", "greedy=True", "only sampling"]),
        (["generate", "{lm}", "--length", "3", "--beam", "3", "--temperature", "2"], ["--temperature=2", "beam=3"]),
        (["generate", "{lm}", "--length", "3", "--greedy", "--top-k", "3"], ["--top-k=3", "greedy=True"]),
        (["generate", "{lm}", "--length", "3", "--beam", "2", "--top-p", "0.9"], ["--top-p=0.9", "beam=2"]),
        # d. word2vec headers that miscount, a word listed twice
        (["similar", "{w2v_fewer.vec}", "fine"], ["w2v_fewer.vec:1", "N=3", "2 vector lines"]),
        (["similar", "{w2v_more.bin}", "fine"], ["w2v_more.bin:1", "N=1", "goes on"]),
        (["similar", "{dup.txt}", "film"], ["dup.txt:3", "'fine' again", "line 1"]),
        # e. rows skipped, then a fatal error: the error alone
        ([*CLF, "--train", "{skip_one_class.csv}", "--skip-bad-rows"], ["one label", "'pos'"]),
        ([*CLF, "--train", "{train.csv}", "--test", "{skip_test.csv}", "--skip-bad-rows"], ["skip_test.csv", "'meh'"]),
        # fuzzing: a beam-search option without beam search, config files, a tiny corpus
        (["generate", "{lm}", "--length", "3", "--length-penalty", "0.5"], ["--length-penalty=0.5", "beam=1"]),
        ([*LM, "--config", "{dup_key.json}"], ["dup_key.json", "'hidden_size' appears twice"]),
        ([*LM, "--config", "{unknown_key.toml}"], ["unknown_key.toml: [data] train: unknown data option"]),
        (["train", "lm", "--corpus", "{two_chars.txt}", "--steps", "1", "--out", "{root}/{out}"], ["corpus", "two_chars.txt", "2 training"]),
    ],
)  # fmt: skip
def test_leftovers_are_one_line(argv, needles, w, capsys, tmp_path) -> None:
    one_line(fill(argv, w | {"out": tmp_path.name}), capsys, *needles)


def test_greedy_and_beam_search_take_the_default_temperature(w, capsys) -> None:
    for extra in (["--greedy"], ["--beam", "2"]):
        code, out, err = run_cli(["generate", w["lm"], "--length", "3", "--temperature", "0.8", *extra], capsys)
        assert code == 0 and out, err


def test_skipped_rows_are_reported_when_the_command_goes_on(w, capsys, tmp_path) -> None:
    skips = tmp_path / "skips.csv"
    skips.write_text("label,text\n" + ROWS + "pos,\n")
    argv = fill([*CLF, "--train", str(skips), "--skip-bad-rows"], {"root": str(tmp_path), "out": "run"})
    code, _, err = run_cli(argv, capsys)
    assert code == 0 and "skips.csv: skipped 1 bad rows" in err, err
    run = str(tmp_path / "run")  # evaluate reads as the run was trained: skipping bad rows
    one_line(["evaluate", run, "--data", w["skip_test.csv"]], capsys, "'meh'")
    good = tmp_path / "good.csv"
    good.write_text("label,text\npos,a fine film\nneg,\npos,great\n")
    code, out, err = run_cli(["evaluate", run, "--data", str(good), "--json"], capsys)
    assert code == 0 and json.loads(out)["accuracy"] >= 0, err
    assert err.strip().splitlines() == [f"{good}: skipped 1 bad rows, e.g. {good}:3: empty text"]


def test_resume_with_a_changed_setting_prints_the_error_alone(w, capsys, tmp_path) -> None:
    import shutil

    shutil.copytree(w["clf"], tmp_path / "run")
    argv = fill([*CLF, "--train", "{train.csv}", "--batch-size", "8", "--hidden", "16", "--resume"],
                w | {"root": str(tmp_path), "out": "run"})  # fmt: skip
    one_line(argv, capsys, "model.hidden_size (stored 8, given 16)")  # no "data: ..." line first
