"""Bad input to the decoding, inspecting and exporting commands, and to seq2seq training.

Each case must end with exit status 2 and ONE stderr line (no traceback, no log line before
it) that names the flag, file or line and the value; a few Python API checks go with them.
The cases run ``rnnkit.cli.main.main`` in-process against three tiny trained runs.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_runs import one_line, run_cli, train_tiny

import rnnkit
from rnnkit.errors import InvalidArgumentError
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.seq2seq_search import MAX_OUTPUT_TOKENS, max_lengths
from rnnkit.tasks.generate_config import GenerateConfig
from rnnkit.tasks.translation import DecodingConfig

_spec = importlib.util.spec_from_file_location(
    "bad_inputs", Path(__file__).with_name("test_bad_inputs.py")
)
bad_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bad_inputs)  # type: ignore[union-attr]

SOURCES = ["ich bin hier .", "du bist da .", "wir sind gut .", "es ist kalt ."] * 10
TARGETS = ["i am here .", "you are there .", "we are good .", "it is cold ."] * 10
ROWS = "label,text\n" + "pos,a fine film\nneg,dull and long\n" * 20
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> dict[str, str]:
    """Files and three tiny runs (seq2seq, language model, classifier) the cases name."""
    root = tmp_path_factory.mktemp("decode_outputs")
    files: dict[str, str | bytes] = {
        "src.txt": "\n".join(SOURCES) + "\n",
        "tgt.txt": "\n".join(TARGETS) + "\n",
        "src_latin1.txt": b"caf\xe9\n" * 40,
        "tgt_latin1.txt": b"i am here .\n" * 39 + b"caf\xe9\n",
        "one_latin1.de": b"caf\xe9\n",
        "one.en": "i am here .\n",
        "long.txt": ("w " * 200 + "\n") * 40,
        "corpus.txt": "to be or not to be, that is the question.\n" * 40,
        "train.csv": ROWS,
        "v_tabs.txt": "fine\t1\t0\t0\nfilm\t0\t1\t0\n",
        "v_words.txt": "fine\nfilm\n",
        "v_late_tabs.txt": "fine 1 0 0\nfilm\t0\t1\t0\n",
        "v3.txt": "fine 1 0 0\nfilm 0 1 0\n",
        "w2v_dim0.txt": "2 0\nfine\nfilm\n",
    }
    paths = {}
    for name, content in files.items():
        path = root / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        paths[name] = str(path)
    (root / "a_dir").mkdir()
    (root / "m.json").mkdir()  # where export's JSON would go
    paths |= {"root": str(root), "a_dir": str(root / "a_dir")}
    tiny = ["--steps", "2", "--no-progress", "--hidden", "8", "--embed", "4"]
    runs = {
        "s2s": ["train", "seq2seq", "--source", paths["src.txt"], "--target", paths["tgt.txt"],
                "--encoder-hidden-size", "8", "--attention-size", "8", "--batch-size", "8",
                "--min-freq", "1"],
        "lm": ["train", "lm", "--corpus", paths["corpus.txt"], "--layers", "1", "--seq-len", "8",
               "--batch-size", "4"],
        "clf": ["train", "classify", "--train", paths["train.csv"], "--batch-size", "8",
                "--embeddings", "none"],
    }  # fmt: skip
    return paths | train_tiny(root, runs, tiny)



def run(argv: list[str], capsys, timeout: int = 60) -> tuple[int, str, str]:
    """(status, stdout, stderr) of ``main(argv)``; a hang past ``timeout`` s fails the case."""
    return bad_inputs.run_cli(argv, capsys, timeout)




def fill(argv: list[str], w: dict[str, str]) -> list[str]:
    """``argv`` with each ``{name}`` replaced by ``w[name]`` (names may hold dots)."""
    return [re.sub(r"\{([\w.]+)\}", lambda m: w[m.group(1)], a) for a in argv]


# 1. word-vector files whose lines hold no numbers after the word (tabs, bare words)
@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["similar", "{v_tabs.txt}", "fine"], ["v_tabs.txt:1", "tabs", "single spaces"]),
        (["similar", "{v_words.txt}", "fine"], ["v_words.txt:1", "no numbers", "'fine'"]),
        (["similar", "{v_late_tabs.txt}", "fine"], ["v_late_tabs.txt:2", "tabs"]),
        (["similar", "{w2v_dim0.txt}", "fine", "--format", "word2vec"], ["w2v_dim0.txt:1", "D >= 1"]),
        (["train", "classify", "--train", "{train.csv}", "--embeddings", "{v_tabs.txt}", "--embed",
          "3", "--steps", "2", "--out", "{root}/o_tabs"], ["v_tabs.txt:1", "tabs"]),
    ],
)  # fmt: skip
def test_vector_lines_without_numbers(argv, needles, w, capsys) -> None:
    one_line(fill(argv, w), capsys, *needles)


# 2. translate's decoding numbers: each has a range, checked before the model is loaded
@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--length-penalty", "-1e308", "[-10, 10]"),
        ("--length-penalty", "nan", "finite"),
        ("--length-penalty", "inf", "finite"),
        ("--length-penalty", "10.5", "[-10, 10]"),
        ("--max-len-ratio", "inf", "finite"),
        ("--max-len-ratio", "nan", "finite"),
        ("--max-len-ratio", "1e308", "[0, 100]"),
        ("--max-len-ratio", "1e6", "[0, 100]"),
        ("--max-len-ratio", "-1", "[0, 100]"),
        ("--max-len-offset", "1000000000", "[0, 10000]"),
        ("--max-len-offset", "-1", "[0, 10000]"),
        ("--beam", "1000000000", "[1, 1000]"),
        ("--beam", "1001", "[1, 1000]"),
        ("--beam", "0", "[1, 1000]"),
    ],
)
def test_translate_decoding_numbers(flag, value, expected, w, capsys) -> None:
    line = one_line(["translate", w["s2s"], "ich bin", flag, value], capsys, flag, expected)
    assert value in line or repr(float(value)) in line
    one_line(["evaluate", w["s2s"], "--source", w["src.txt"], "--target", w["tgt.txt"], flag,
              value], capsys, flag, expected)  # fmt: skip


def test_decoding_limits_in_the_python_api() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^length_penalty=-1e\+308: expected"):
        DecodingConfig(length_penalty=-1e308)
    with pytest.raises(InvalidArgumentError, match=r"^beam=1001: expected an int in \[1, 1000\]"):
        DecodingConfig(beam=1001)
    with pytest.raises(InvalidArgumentError, match=r"^max_len_ratio=inf"):
        DecodingConfig(max_len_ratio=float("inf"))
    assert max_lengths(torch.tensor([3, 200]), 100.0, 10_000) == [MAX_OUTPUT_TOKENS] * 2
    assert max_lengths(torch.tensor([0, 4, 10]), 1.5, 2) == [2, 8, 17]


def test_translate_accepts_the_edges_of_the_ranges(w, capsys) -> None:
    argv = ["translate", w["s2s"], "ich bin", "--beam", "3", "--length-penalty", "-10",
            "--max-len-ratio", "100", "--max-len-offset", "0"]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 0 and len(out.splitlines()) == 1, err


# 3. translate --plot: the path is checked before decoding
@pytest.mark.parametrize(
    ("plot", "needles"),
    [
        ("{src.txt}/x.png", ["--plot", "which is a file"]),
        ("{root}/nodir/x.png", ["--plot", "existing directory"]),
        ("{root}/x.xyz", ["--plot", ".png", "x.xyz"]),
        ("{a_dir}", ["--plot", "is a directory"]),
        ("{root}/attention", ["--plot", ".png"]),
        ("", ["--plot", "empty path"]),
    ],
)
def test_translate_plot_paths(plot, needles, w, capsys) -> None:
    one_line(fill(["translate", "{s2s}", "ich bin", "--plot", plot], w), capsys, *needles)
    assert not Path(w["a_dir"] + ".png").exists()  # matplotlib's own suffix never added
    assert not Path(w["root"], "attention.png").exists()


def test_translate_plot_writes_the_named_format(w, capsys) -> None:
    pytest.importorskip("matplotlib")
    path = Path(w["root"], "a.svg")
    argv = ["translate", w["s2s"], "ich bin", "--plot", str(path), "--max-len-offset", "3"]
    code, _, err = run(argv, capsys)
    assert code == 0 and path.read_text().lstrip().startswith("<?xml"), err


# 4. train seq2seq: every size flag has the caps of --hidden
@pytest.mark.parametrize(
    "flag", ["--encoder-hidden-size", "--embed", "--attention-size", "--hidden"]
)
def test_seq2seq_size_caps(flag, w, capsys) -> None:
    argv = ["train", "seq2seq", "--source", w["src.txt"], "--target", w["tgt.txt"], "--steps",
            "2", "--out", w["root"] + "/o_caps", flag, "100000"]  # fmt: skip
    one_line(argv, capsys, flag, "100000", "65536")


def test_seq2seq_model_must_fit_in_memory(monkeypatch) -> None:
    from rnnkit import validation

    monkeypatch.setattr(validation, "_physical_memory", lambda: 2**30)
    with pytest.raises(
        InvalidArgumentError, match=r"^encoder_hidden_size=8192: expected a smaller"
    ):
        Seq2SeqConfig(encoder_hidden_size=8192, hidden_size=8)
    with pytest.raises(InvalidArgumentError, match=r"^embedding_size=20000: expected a smaller"):
        Seq2SeqConfig(embedding_size=20_000, source_vocab_size=10_000, target_vocab_size=10_000)


# 5. inspect's numbers are capped
@pytest.mark.parametrize(
    ("run_name", "flag", "value"),
    [("clf", "--ig-steps", "1000000000"), ("clf", "--ig-steps", "1001"),
     ("lm", "--top-k", "101"), ("lm", "--max-tokens", "20001")],
)  # fmt: skip
def test_inspect_caps(run_name, flag, value, w, capsys) -> None:
    argv = ["inspect", w[run_name], "--text", "a fine", "--out", w["root"] + "/i.html", flag, value]
    one_line(argv, capsys, flag, value, "at most")


# 6. output files that cannot be written: one line before any work
@PROC
@pytest.mark.parametrize(
    "argv",
    [["inspect", "{lm}", "--text", "to be", "--out", "/proc/x.html"],
     ["export", "{lm}", "--out", "/proc/m.onnx"],
     ["translate", "{s2s}", "ich bin", "--plot", "/proc/a.png"]],
)  # fmt: skip
def test_unwritable_output_files(argv, w, capsys) -> None:
    one_line(fill(argv, w), capsys, "/proc", "not writable")


def test_export_json_beside_the_onnx_file_must_be_writable(w, capsys) -> None:
    one_line(["export", w["lm"], "--out", w["root"] + "/m.onnx"], capsys, "--out", "m.json",
             "is a directory")  # fmt: skip


# 7. a non-UTF-8 line is reported in the file that holds it
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "seq2seq", "--source", "{src_latin1.txt}", "--target", "{tgt.txt}"], "src_latin1.txt:1:"),
        (["train", "seq2seq", "--source", "{src.txt}", "--target", "{tgt_latin1.txt}"], "tgt_latin1.txt:40:"),
        (["train", "seq2seq", "--source", "{src.txt}", "--target", "{tgt.txt}", "--val-source",
          "{src_latin1.txt}", "--val-target", "{tgt.txt}"], "src_latin1.txt:1:"),
        (["train", "seq2seq", "--source", "{src.txt}", "--target", "{tgt.txt}", "--test-source",
          "{src_latin1.txt}", "--test-target", "{tgt.txt}"], "src_latin1.txt:1:"),
        (["evaluate", "{s2s}", "--source", "{one_latin1.de}", "--target", "{one.en}"], "one_latin1.de:1:"),
    ],
)  # fmt: skip
def test_non_utf8_pairs_name_their_file(argv, needle, w, capsys) -> None:
    argv = fill(argv, w)
    if argv[0] == "train":
        argv += ["--steps", "2", "--min-freq", "1", "--out", w["root"] + "/o_utf8"]
    line = one_line(argv, capsys, needle, "utf-8")
    assert "tgt.txt" not in line and "one.en" not in line


# 8. no log line before the error
@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["train", "classify", "--train", "{train.csv}", "--embeddings", "none",
                      "--device", "cuda"], marks=NO_CUDA, id="classify-cuda"),
        pytest.param(["train", "seq2seq", "--source", "{src.txt}", "--target", "{tgt.txt}",
                      "--device", "cuda"], marks=NO_CUDA, id="seq2seq-cuda"),
        pytest.param(["train", "classify", "--train", "{train.csv}", "--embeddings", "{v3.txt}",
                      "--embed", "4"], id="classify-vector-dimension"),
        pytest.param(["train", "seq2seq", "--source", "{long.txt}", "--target", "{long.txt}",
                      "--skip-bad"], id="seq2seq-all-skipped"),
    ],
)  # fmt: skip
def test_the_error_is_the_only_line(argv, w, capsys, tmp_path) -> None:
    argv = [*fill(argv, w), "--steps", "2", "--hidden", "8", "--out", str(tmp_path / "run")]
    line = one_line(argv, capsys)
    assert any(s in line for s in ("--device", "--embed", "all 40 pairs skipped")), line
    assert not (tmp_path / "run" / "config.json").exists()


# 9. contradictory decoding options are refused, not ignored
@pytest.mark.parametrize(
    ("extra", "flag"),
    [(["--greedy", "--beam", "3"], "--beam"), (["--greedy", "--top-k", "2"], "--top-k"),
     (["--beam", "3", "--top-p", "0.5"], "--top-p"), (["--greedy", "--top-p", "0.9"], "--top-p"),
     (["--beam", "2", "--top-k", "5"], "--top-k")],
)  # fmt: skip
def test_generate_contradictions(extra, flag, w, capsys) -> None:
    one_line(
        ["generate", w["lm"], "--length", "3", *extra],
        capsys,
        flag,
        "greedy" if "--greedy" in extra else "beam",
    )


def test_generate_contradictions_in_the_python_api() -> None:
    for options in (
        {"greedy": True, "beam": 3},
        {"greedy": True, "top_k": 2},
        {"beam": 3, "top_p": 0.5},
    ):
        with pytest.raises(InvalidArgumentError):
            GenerateConfig(**options)
        with pytest.raises(InvalidArgumentError):  # before the model is needed
            rnnkit.LanguageModel().generate("to be", **options)
    assert (
        GenerateConfig(top_k=2, top_p=0.5)
        and GenerateConfig(greedy=True)
        and GenerateConfig(beam=4)
    )


@pytest.mark.parametrize(
    ("extra", "flag"),
    [(["--data", "{src.txt}"], "--data"), (["--text-col", "text"], "--text-col"),
     (["--label-col", "1"], "--label-col"), (["--classes", "{src.txt}"], "--classes"),
     (["--no-header"], "--no-header"), (["--format", "csv"], "--format")],
)  # fmt: skip
def test_evaluate_seq2seq_refuses_classifier_flags(extra, flag, w, capsys) -> None:
    argv = [
        "evaluate",
        w["s2s"],
        "--source",
        w["src.txt"],
        "--target",
        w["tgt.txt"],
        *fill(extra, w),
    ]
    one_line(argv, capsys, flag, "seq2seq")


# 10. standard input is checked as --file is
@pytest.mark.parametrize(
    ("data", "needles"),
    [(b"a fine film\nbad\x00text\n", ["standard input:2", "NUL"]),
     (b"a fine film\ncaf\xe9\n", ["standard input:2", "utf-8", "xe9"]),
     (b"", ["standard input", "empty"])],
)  # fmt: skip
@pytest.mark.parametrize("command", ["predict", "translate"])
def test_stdin_like_file(command, data, needles, w, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    one_line([command, w["clf" if command == "predict" else "s2s"]], capsys, *needles)


def test_stdin_utf8_still_read(w, capsys, monkeypatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO("\ufeffa fine film\ncafé\n".encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, err = run(["predict", w["clf"], "--json"], capsys)
    assert code == 0, err
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["a fine film", "café"]


@pytest.mark.parametrize("run", ["lm", "clf"])
@pytest.mark.parametrize(
    ("extra", "flag"),
    [(["--source", "{src.txt}"], "--source"), (["--target", "{tgt.txt}"], "--target"),
     (["--beam", "3"], "--beam")],
)  # fmt: skip
def test_evaluate_refuses_seq2seq_flags_for_other_models(run, extra, flag, w, capsys) -> None:
    data = w["corpus.txt"] if run == "lm" else w["train.csv"]
    one_line(["evaluate", w[run], "--data", data, *fill(extra, w)], capsys, flag, "seq2seq")


# second fuzzing pass: what the machine refuses, columns named twice, empty paths
LONG = "x" * 300  # a file-name part over the 255 bytes file systems take


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["inspect", "{lm}", "--text", "to be", "--out", "{root}/" + LONG + ".html"], ["too long"]),
        (["generate", "{root}/" + LONG], ["too long"]),
        (["train", "classify", "--train", "{train.csv}", "--text-cols", "0", "--steps", "2",
          "--out", "{root}/o_leak"], ["--text-cols", "label column"]),
        (["train", "lm", "--corpus", "{corpus.txt}", "--config", "", "--steps", "2", "--out",
          "{root}/o_cfg"], ["config", "empty path"]),
        (["train", "seq2seq", "--source", "{src.txt}", "--target", "{tgt.txt}", "--val-source", "",
          "--steps", "2", "--out", "{root}/o_vs"], ["--val-source", "empty path"]),
        (["train", "lm", "--corpus", "{corpus.txt}", "--weight-decay", "1e308", "--steps", "2",
          "--out", "{root}/o_wd"], ["--weight-decay", "1 / lr"]),
    ],
)  # fmt: skip
def test_second_pass_cases(argv, needles, w, capsys) -> None:
    one_line(fill(argv, w), capsys, *needles)


@pytest.mark.parametrize("command", [["inspect", "{lm}", "--text", "to be"], ["export", "{lm}"]])
def test_an_output_that_is_a_pipe_is_refused_not_waited_on(command, w, capsys) -> None:
    pipe = Path(w["root"]) / f"pipe_{command[0]}"
    if not pipe.exists():
        os.mkfifo(pipe)
    one_line(fill([*command, "--out", str(pipe)], w), capsys, "not a regular file")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_standard_output_is_one_line_and_status_2(w) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "rnnkit", "generate", w["lm"], "--length", "5"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "No space left" in done.stderr


def test_predict_answers_one_line_per_input_line_whatever_unicode_separators_they_hold(w, capsys, tmp_path) -> None:
    """Lines break at \\n, \\r\\n and \\r only, as training reads them: a vertical tab, form
    feed or U+2028 inside a text stays in it (str.splitlines would split there)."""
    texts = tmp_path / "texts.txt"
    texts.write_bytes("good\x0bfilm\r\nbad\x0cplot\nfine\u2028day\u2029ok\x85x\rlast\n".encode())
    code, out, _ = run_cli(["predict", w["clf"], "--file", str(texts), "--json"], capsys)
    assert code == 0
    answers = [json.loads(line)["text"] for line in out.rstrip("\n").split("\n")]
    assert answers == ["good\x0bfilm", "bad\x0cplot", "fine\u2028day\u2029ok\x85x", "last"]


def _closed(fds: tuple[int, ...]):
    return lambda: [os.close(fd) for fd in fds]


@pytest.mark.parametrize(
    ("argv", "closed", "status", "needle"),
    [
        (["generate", "{lm}", "--length", "5"], (1,), 2, "standard output is closed"),
        (["predict", "{clf}"], (0,), 2, "standard input: empty"),
        (["generate", "{lm}", "--length", "0"], (2,), 2, ""),
        (["generate", "{lm}", "--length", "5"], (0, 2), 0, ""),
    ],
    ids=["stdout", "stdin", "stderr", "stdin_and_stderr"],
)
def test_closed_standard_streams_give_one_line_and_status_2(w, argv, closed, status, needle) -> None:
    """Python makes a stream whose descriptor is closed None (or unwritable): no traceback,
    no status 1, even where the error line has nowhere to go."""
    done = subprocess.run([sys.executable, "-m", "rnnkit", *fill(argv, w)], preexec_fn=_closed(closed),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == status
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0
    assert needle in done.stderr


def test_a_validation_source_alone_is_named_as_such(w, capsys) -> None:
    argv = ["train", "seq2seq", "--source", w["src.txt"], "--target", w["tgt.txt"],
            "--val-source", w["src.txt"], "--steps", "2", "--out", w["root"] + "/o_vsa"]  # fmt: skip
    one_line(argv, capsys, "--val-source", "val_target")


def test_translate_refuses_a_source_sentence_longer_than_the_cap(w, capsys, tmp_path) -> None:
    from rnnkit.tasks.translation import MAX_SOURCE_TOKENS

    long = tmp_path / "long.txt"
    long.write_text("ich " * (MAX_SOURCE_TOKENS + 1) + "\n")
    one_line(["translate", w["s2s"], "--file", str(long)], capsys, "sentence 1", "at most")
