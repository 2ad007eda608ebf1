"""`rnnkit train lm`, `generate` and `evaluate` in-process: the main job and its bad inputs."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnkit.cli.main import main
from rnnkit.train.checkpoint import load_checkpoint

TEXT = "to be or not to be, that is the question.\n" * 80


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lm")
    corpus = root / "corpus.txt.gz"
    corpus.write_bytes(gzip.compress(TEXT.encode()))
    out = root / "run"
    code = main(["train", "lm", "--corpus", str(corpus), "--steps", "12", "--hidden", "32", "--layers", "1",
                 "--embed", "8", "--seq-len", "16", "--batch-size", "8", "--eval-every", "6", "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    return out


def one_error_line(capsys) -> str:
    """The one error line on stderr (the lines before it are the library's progress log)."""
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("rnnkit")]
    assert len(errors) == 1 and err[-1] == errors[0], err
    assert "Traceback" not in "\n".join(err)
    return errors[0]


def test_train_writes_a_run_and_config(run_dir: Path) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "lm" and config["model"]["hidden_size"] == 32
    assert config["trainer"]["steps"] == 12 and config["trainer"]["minutes"] is None
    assert (run_dir / "best" / "model.safetensors").is_file()


def test_generate_streams_reproducibly(run_dir: Path, capsys) -> None:
    assert (
        main(["generate", str(run_dir), "--prompt", "to be", "--length", "30", "--seed", "1"]) == 0
    )
    first = capsys.readouterr().out
    assert first.startswith("to be") and len(first) == len("to be") + 30 + 1
    main(["generate", str(run_dir), "--prompt", "to be", "--length", "30", "--seed", "1"])
    assert capsys.readouterr().out == first


def test_generate_beam_and_several_samples(run_dir: Path, capsys) -> None:
    assert (
        main(["generate", str(run_dir), "--beam", "3", "--num-samples", "2", "--length", "10"]) == 0
    )
    out = capsys.readouterr().out
    assert out.count("--- sample") == 2


def test_evaluate_reports_bits_per_character(run_dir: Path, tmp_path: Path, capsys) -> None:
    held_out = tmp_path / "held_out.txt"
    held_out.write_text(TEXT[:400])
    assert main(["evaluate", str(run_dir), "--data", str(held_out), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["bpc"] == pytest.approx(metrics["loss"] / 0.693147, rel=1e-4)
    assert metrics["tokens"] == 400 and metrics["unknown_tokens"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--temperature", "0"], "--temperature=0.0: expected a finite number >= 0.0001"),
        (["--top-p", "1.5"], "--top-p=1.5"),
        (["--top-k", "0"], "--top-k=0"),
        (["--beam", "0"], "beam=0"),
        (["--prompt", "Ωbe"], "unknown: 'Ω'"),
    ],
)
def test_bad_generation_arguments(run_dir: Path, capsys, args: list[str], message: str) -> None:
    assert main(["generate", str(run_dir), "--length", "5", *args]) == 2
    assert capsys.readouterr().out == ""  # nothing written before the error (not the prompt)
    main(["generate", str(run_dir), "--length", "5", *args])
    assert message in one_error_line(capsys)


def test_altered_checkpoint_is_detected(run_dir: Path, tmp_path: Path, capsys) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    weights = copy / "best" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert main(["generate", str(copy), "--length", "5"]) == 2
    assert "SHA-256 mismatch" in one_error_line(capsys)
    weights.write_bytes(bytes(data[:100]))  # truncated
    assert main(["generate", str(copy), "--length", "5"]) == 2
    assert "truncated" in one_error_line(capsys)


def test_missing_checkpoint(tmp_path: Path, capsys) -> None:
    assert main(["generate", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in one_error_line(capsys)


def test_out_dir_with_another_run_is_refused(run_dir: Path, capsys) -> None:
    before = (run_dir / "best" / "model.safetensors").read_bytes()
    assert (
        main(
            [
                "train",
                "lm",
                "--corpus",
                "nietzsche",
                "--steps",
                "1",
                "--out",
                str(run_dir),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "already holds a run" in one_error_line(capsys)
    assert (run_dir / "best" / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "whitespace"),
        (b"\x00\x01\x02binary\x00" * 10, "binary"),
        (b"short", "tokens; expected at least"),
    ],
)
def test_bad_corpus(tmp_path: Path, capsys, content: bytes, message: str) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(content)
    out = tmp_path / "out"
    assert (
        main(
            [
                "train",
                "lm",
                "--corpus",
                str(corpus),
                "--steps",
                "1",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 2
    )
    assert message in one_error_line(capsys)
    assert not (out / "last").exists()


def test_argument_errors_are_one_line_with_status_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "lm", "--hidden", "many"])
    assert exit_info.value.code == 2
    assert "invalid int value: 'many'" in one_error_line(capsys)


@pytest.mark.slow
def test_ctrl_c_exits_130_with_one_line_and_the_run_resumes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "rnnkit.cli.main", "train", "lm", "--corpus", str(corpus),
               "--hidden", "32", "--layers", "1", "--embed", "8", "--seq-len", "16",
               "--batch-size", "8", "--eval-every", "2", "--out", str(out), "--no-progress"]  # fmt: skip
    process = subprocess.Popen(
        [*command, "--minutes", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (out / "last" / "manifest.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it train on, so the signal may land in a step or in a save
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    lines = stderr.strip().splitlines()  # the progress log, then the interruption
    assert lines[-1] == "rnnkit: interrupted" and "continue with --resume" in lines[-2]
    assert "Traceback" not in stderr and stdout == ""
    step = load_checkpoint(out / "last").trainer_state["progress"]["step"]  # intact, verified
    assert step >= 2
    # The budget may change on resume: train on to a fixed step count past the checkpoint.
    resumed = subprocess.run(
        [*command, "--steps", str(step + 4), "--resume"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {out} at step {step}" in resumed.stderr
    assert load_checkpoint(out / "last").trainer_state["progress"]["step"] == step + 4
