"""Bad command lines, fourth pass: each ends with exit status 2 and ONE stderr line.

The leftovers of the third pass (a label error naming the wrong row after skipped rows, empty
texts given to ``predict`` and ``translate``) and what fuzzing ``train seq2seq``,
``translate``, ``evaluate`` and torchrun's environment variables found. The CLI runs
in-process with the helpers of ``test_bad_inputs.py`` against two tiny trained runs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from cli_runs import one_line, train_tiny

from rnnkit.data.readers import LabelMap, read_labelled, train_val_split
from rnnkit.errors import DataError, InvalidArgumentError
from rnnkit.tasks.classification import encode_labels
from rnnkit.tasks.translation import MAX_SOURCE_TOKENS
from rnnkit.train import distributed

_spec = importlib.util.spec_from_file_location(
    "bad_inputs", Path(__file__).with_name("test_bad_inputs.py")
)
bad_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bad_inputs)  # type: ignore[union-attr]
run_cli = bad_inputs.run_cli

ROWS = "label,text\n" + "pos,a fine film\nneg,dull and long\n" * 20
SOURCES = ["ich bin hier .", "du bist da .", "wir sind gut .", "es ist kalt ."] * 10
TARGETS = ["i am here .", "you are there .", "we are good .", "it is cold ."] * 10
TORCHRUN = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> dict[str, str]:
    """Files and two tiny runs (classifier, seq2seq) that the cases name."""
    root = tmp_path_factory.mktemp("fourth")
    files = {
        "train.csv": ROWS,
        # header, a blank line, a row skipped for its empty text, then an unseen label: line 5
        "unseen_after_skip.csv": "label,text\npos,a fine film\n\nneg,\nmeh,an unseen label\n",
        "other_labels.csv": "label,text\ngood,a fine film\nbad,dull\n",
        "src.txt": "\n".join(SOURCES) + "\n",
        "tgt.txt": "\n".join(TARGETS) + "\n",
        "blank_lines.txt": "ich bin hier .\n\n   \ndu bist da .\n",
        "long_src.txt": "ich bin hier .\ndu bist da .\n" + "ich " * (MAX_SOURCE_TOKENS + 1) + "\n",
        "long_tgt.txt": "i am here .\nyou are there .\nwe are good .\n",
        "pairs.tsv": "".join(f"{a}\t{b}\n" for a, b in zip(SOURCES, TARGETS, strict=True)),
    }
    paths = {"root": str(root)}
    for name, content in files.items():
        (root / name).write_text(content)
        paths[name] = str(root / name)
    tiny = ["--steps", "2", "--no-progress", "--hidden", "8", "--embed", "4", "--batch-size", "8"]
    runs = {
        "clf": ["train", "classify", "--train", paths["train.csv"], "--embeddings", "none"],
        "s2s": ["train", "seq2seq", "--source", paths["src.txt"], "--target", paths["tgt.txt"],
                "--encoder-hidden-size", "8", "--attention-size", "8", "--min-freq", "1"],
    }  # fmt: skip
    return paths | train_tiny(root, runs, tiny)


# ---- leftover 1: a label error names the file line, whatever was skipped before it ----
def test_an_unseen_label_names_its_file_line_after_skipped_rows(w, tmp_path: Path) -> None:
    data = read_labelled(w["unseen_after_skip.csv"], skip_bad_rows=True)
    assert data.skipped == 1
    with pytest.raises(DataError, match=r"unseen_after_skip\.csv:5: label 'meh' was not seen"):
        encode_labels(LabelMap(["neg", "pos"], ["neg", "pos"]), data)
    # a split keeps each row's line (its rows are shuffled); the lone 'odd' row stays in train
    rows = "label,text\n" + "pos,a fine film\n\n" * 10 + "neg,dull\n" * 9 + "odd,a rare one\n"
    (tmp_path / "split.csv").write_text(rows)
    train, _ = train_val_split(read_labelled(tmp_path / "split.csv"), 0.5, seed=0)
    assert train.labels[-1] != "odd"
    with pytest.raises(DataError, match=r"split\.csv:31: label 'odd'"):
        encode_labels(LabelMap(["neg", "pos"], ["neg", "pos"]), train)


def test_an_unseen_label_from_lists_names_its_position() -> None:
    from rnnkit.data.readers import from_lists

    with pytest.raises(DataError, match=r"^y: row 2: label 'meh'"):
        encode_labels(LabelMap(["pos"], ["pos"]), from_lists(["a", "b"], ["pos", "meh"], "y"))


def test_cli_label_errors_name_the_line(w, capsys) -> None:
    one_line(["evaluate", w["clf"], "--data", w["unseen_after_skip.csv"]], capsys,
             "unseen_after_skip.csv:4", "empty text")  # fmt: skip
    one_line(["evaluate", w["clf"], "--data", w["other_labels.csv"]], capsys,
             "other_labels.csv:2", "'good'", "not seen in training")  # fmt: skip
    argv = ["train", "classify", "--train", w["train.csv"], "--test", w["unseen_after_skip.csv"],
            "--skip-bad-rows", "--steps", "1", "--out", w["root"] + "/t_skip"]  # fmt: skip
    one_line(argv, capsys, "unseen_after_skip.csv:5", "'meh'")


# ---- leftover 3: empty texts get a prediction (all-padding input), never a crash ----
@pytest.mark.parametrize("empty", ["", "   ", "\t"])
def test_predict_answers_an_empty_text_as_padding(empty: str, w, capsys) -> None:
    code, out, err = run_cli(["predict", w["clf"], "--json", "a fine film", empty], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == ["a fine film", empty]
    assert records[1]["label"] in ("pos", "neg")
    assert sum(records[1]["probabilities"].values()) == pytest.approx(1, abs=1e-5)


def test_translate_answers_empty_lines_one_line_each(w, capsys) -> None:
    code, out, err = run_cli(["translate", w["s2s"], "", "  ", "--beam", "2"], capsys)
    assert code == 0, err
    assert len(out.split("\n")) == 3  # two translations (maybe empty), each on its own line
    code, out, err = run_cli(["translate", w["s2s"], "--file", w["blank_lines.txt"]], capsys)
    assert code == 0, err
    assert len(out.split("\n")) == 5  # four lines in, four lines out


def test_translate_takes_texts_after_options(w, capsys) -> None:
    code, out, err = run_cli(["translate", w["s2s"], "--beam", "2", "ich bin hier ."], capsys)
    assert code == 0, err
    assert len(out.splitlines()) == 1
    code, out, err = run_cli(["translate", w["s2s"], "ich", "--beam", "1", "du", "wir"], capsys)
    assert code == 0, err
    assert len(out.splitlines()) == 3


# ---- seq2seq: a source sentence over the cap names its file line, not its shuffled index ----
def test_a_source_sentence_over_the_cap_names_its_line(w, capsys) -> None:
    one_line(["evaluate", w["s2s"], "--source", w["long_src.txt"], "--target", w["long_tgt.txt"]],
             capsys, "long_src.txt + ", "long_tgt.txt:3", "10,001 tokens")  # fmt: skip


# ---- torchrun's environment variables ----
@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"RANK": "x"}, ["RANK='x'", "an int in [0, 0]", "WORLD_SIZE is unset"]),
        ({"RANK": "-1"}, ["RANK='-1'"]),
        ({"RANK": "1"}, ["RANK='1'", "WORLD_SIZE is unset"]),
        ({"WORLD_SIZE": "x"}, ["WORLD_SIZE='x'", "an int >= 1"]),
        ({"WORLD_SIZE": "0"}, ["WORLD_SIZE='0'", "an int >= 1"]),
        ({"WORLD_SIZE": "2", "RANK": "5"}, ["RANK='5'", "[0, 1]", "WORLD_SIZE=2"]),
        ({"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "x"}, ["LOCAL_RANK='x'"]),
        ({"WORLD_SIZE": "2"}, ["RANK=None", "torchrun"]),
        ({"WORLD_SIZE": "2", "RANK": "0"}, ["MASTER_ADDR=None", "torchrun"]),
        ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "localhost"}, ["MASTER_PORT=None"]),
        ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "localhost", "MASTER_PORT": "http"}, ["MASTER_PORT='http'", "[1, 65535]"]),
    ],
)  # fmt: skip
def test_nonsense_torchrun_variables_are_one_line(env, needles, w, capsys, monkeypatch, tmp_path) -> None:
    for name in TORCHRUN:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    argv = ["train", "classify", "--train", w["train.csv"], "--steps", "1", "--hidden", "8",
            "--embeddings", "none", "--no-progress", "--out", str(tmp_path / "run")]  # fmt: skip
    one_line(argv, capsys, *needles)  # refused before any process group waits for its peers


def test_a_bad_rank_is_refused_by_every_command(w, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RANK", "x")
    one_line(["predict", w["clf"], "a fine film"], capsys, "RANK='x'")


def test_torchrun_environment_of_one_process(monkeypatch) -> None:
    for name in TORCHRUN:
        monkeypatch.delenv(name, raising=False)
    assert distributed.environment() == distributed.Context(0, 1, 0)
    assert not distributed.launched()
    monkeypatch.setenv("RANK", "")  # empty counts as unset
    assert distributed.environment().rank == 0
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.environment() == distributed.Context(3, 4, 1)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(InvalidArgumentError, match=r"^RANK='4': expected an int in \[0, 3\]"):
        distributed.launched()


# ---- seq2seq: options that do not apply to what was given ----
S2S = ["train", "seq2seq", "--steps", "1", "--no-progress", "--out", "{root}/s2s_bad"]


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        # a file of pairs given with a target beside it: its tabs would be read as words
        (["--source", "{pairs.tsv}", "--target", "{tgt.txt}"], ["--source=", "pairs.tsv", "a .tsv file holds pairs"]),
        (["--source", "{src.txt}", "--target", "{pairs.tsv}"], ["--target=", "aligned with source"]),
        # --format and --header are for one file of pairs, and there is none
        (["--source", "{src.txt}", "--target", "{tgt.txt}", "--format", "tsv"], ["--format='tsv'", "two aligned files"]),
        (["--source", "{src.txt}", "--target", "{tgt.txt}", "--header"], ["--header=True", "two aligned files"]),
        # no word is frequent enough: the message names the flag to change
        (["--source", "{src.txt}", "--target", "{tgt.txt}", "--min-freq", "1000"], ["--min-freq=1000", "expected min_freq <= "]),
    ],
)  # fmt: skip
def test_seq2seq_options_that_do_not_apply(argv, needles, w, capsys) -> None:
    one_line(bad_inputs.fill([*S2S, *argv], w), capsys, *needles)


def test_evaluate_refuses_a_file_of_pairs_with_a_target(w, capsys) -> None:
    one_line(["evaluate", w["s2s"], "--source", w["pairs.tsv"], "--target", w["tgt.txt"]], capsys,
             "--source=", "a .tsv file holds pairs")  # fmt: skip
    code, out, err = run_cli(["evaluate", w["s2s"], "--source", w["pairs.tsv"], "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["sentences"] == len(SOURCES)


def test_evaluate_warns_when_source_and_target_look_swapped(w, capsys) -> None:
    code, out, err = run_cli(["evaluate", w["s2s"], "--source", w["tgt.txt"], "--target", w["src.txt"]], capsys)
    assert code == 0, err
    assert "unknown_source_tokens" in out
    assert "are source and target swapped" in err  # scored, but not silently
    code, _, err = run_cli(["evaluate", w["s2s"], "--source", w["src.txt"], "--target", w["tgt.txt"]], capsys)
    assert code == 0 and "swapped" not in err


def test_label_errors_name_jsonl_lines_and_folder_files(tmp_path: Path) -> None:
    labels = LabelMap(["neg", "pos"], ["neg", "pos"])
    (tmp_path / "j.jsonl").write_text(
        '{"text": "a", "label": "pos"}\n\n{"text": "", "label": "neg"}\n{"text": "b", "label": "meh"}\n'
    )
    with pytest.raises(DataError, match=r"j\.jsonl:4: label 'meh'"):
        encode_labels(labels, read_labelled(tmp_path / "j.jsonl", skip_bad_rows=True))
    for name in ("neg", "odd", "pos"):
        (tmp_path / "folder" / name).mkdir(parents=True)
        (tmp_path / "folder" / name / "1.txt").write_text(f"a {name} text\n")
    with pytest.raises(DataError, match=r"folder/odd/1\.txt: label 'odd'"):
        encode_labels(labels, read_labelled(tmp_path / "folder"))


def test_an_encoder_from_run_of_another_task_names_the_flag(w, capsys) -> None:
    argv = ["train", "classify", "--train", w["train.csv"], "--encoder-from", w["s2s"],
            "--steps", "1", "--no-progress", "--out", w["root"] + "/enc"]  # fmt: skip
    line = one_line(argv, capsys, "a 'seq2seq' checkpoint", "expected a language model")
    assert line.startswith("rnnkit: error: --encoder-from: ")


def test_a_local_rank_beyond_the_visible_gpus_is_one_error(monkeypatch) -> None:
    import torch

    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "5",
                        "MASTER_ADDR": "localhost", "MASTER_PORT": "29500"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: pytest.fail("reached set_device"))
    with pytest.raises(InvalidArgumentError, match=r"^LOCAL_RANK=5: expected an int in \[0, 1\]: one of the 2 CUDA GPUs"):
        distributed.init_from_env(torch.device("cuda"))
