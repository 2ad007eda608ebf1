"""`rnnkit train seq2seq`, `translate` and `evaluate` in-process: the main job and its bad inputs."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from rnnkit.cli.main import main

TINY = ["--embed", "8", "--encoder-hidden-size", "8", "--hidden", "8", "--attention-size", "4",
        "--min-freq", "1", "--batch-size", "16", "--no-progress"]  # fmt: skip


def write_pairs(folder: Path, name: str, count: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    src = [" ".join(rng.choice("abcde") for _ in range(rng.randint(1, 4))) for _ in range(count)]
    (folder / f"{name}.src").write_text("".join(s + "\n" for s in src))
    (folder / f"{name}.tgt").write_text("".join(" ".join(reversed(s.split())) + " .\n" for s in src))
    return folder / f"{name}.src", folder / f"{name}.tgt"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pairs")
    (train_src, train_tgt), (val_src, val_tgt) = write_pairs(root, "train", 80, 0), write_pairs(root, "val", 10, 1)
    return {"root": root, "src": train_src, "tgt": train_tgt, "val_src": val_src, "val_tgt": val_tgt}


@pytest.fixture(scope="module")
def run_dir(files: dict[str, Path]) -> Path:
    out = files["root"] / "run"
    code = main(["train", "seq2seq", "--source", str(files["src"]), "--target", str(files["tgt"]),
                 "--val-source", str(files["val_src"]), "--val-target", str(files["val_tgt"]),
                 "--test-source", str(files["val_src"]), "--test-target", str(files["val_tgt"]),
                 "--steps", "6", "--attention", "additive", *TINY, "--out", str(out)])  # fmt: skip
    assert code == 0
    return out


@pytest.mark.slow
def test_train_writes_a_run_with_alignments_and_test_scores(run_dir: Path, capsys) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "seq2seq" and config["model"]["attention"] == "additive"
    assert (run_dir / "best" / "model.safetensors").exists()
    assert (run_dir / "alignments" / "alignments.json").exists()
    test = json.loads((run_dir / "test_metrics.json").read_text())
    assert {"bleu", "chrf", "loss", "perplexity"} <= set(test) and test["sentences"] == 10


@pytest.mark.slow
def test_translate_arguments_file_stdin_and_plot(run_dir: Path, files: dict[str, Path], capsys, monkeypatch, tmp_path: Path) -> None:  # fmt: skip
    assert main(["translate", str(run_dir), "a b", "c", "--beam", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["translate", str(run_dir), "--file", str(files["val_src"]), "--beam", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 10
    monkeypatch.setattr("sys.stdin", io.StringIO("a b c\nd\ne\n"))
    assert main(["translate", str(run_dir)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["translate", str(run_dir), "a b c", "--plot", str(tmp_path / "att.png")]) == 0
    assert (tmp_path / "att.png").stat().st_size > 0


@pytest.mark.slow
def test_evaluate_prints_bleu_chrf_loss_and_perplexity(run_dir: Path, files: dict[str, Path], capsys) -> None:  # fmt: skip
    args = ["evaluate", str(run_dir), "--source", str(files["val_src"]), "--target", str(files["val_tgt"])]  # fmt: skip
    assert main([*args, "--json", "--beam", "3"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"bleu", "chrf", "loss", "perplexity"} <= set(metrics) and metrics["beam"] == 3
    assert main(["evaluate", str(run_dir)]) == 2
    assert "--source=None" in one_error_line(capsys)


def bad_pair_files(root: Path) -> dict[str, tuple[str, str]]:
    cases = {"counts": ("a\nb\nc\n", "x\ny\n"), "empty": ("a\n\nc\n", "x\ny\nz\n"),
             "long": ("a\n" + "b " * 30 + "\n", "x\ny\n")}  # fmt: skip
    for name, (src, tgt) in cases.items():
        (root / f"{name}.src").write_text(src)
        (root / f"{name}.tgt").write_text(tgt)
    return cases


@pytest.mark.parametrize(
    ("case", "expected"),
    [("counts", "has 3 lines and"), ("empty", ":2: empty source sentence"),
     ("long", ":2: 30 source and 1 target tokens, over max_len=10")],
)  # fmt: skip
def test_bad_training_pairs_give_one_error_line(case: str, expected: str, tmp_path: Path, capsys) -> None:  # fmt: skip
    bad_pair_files(tmp_path)
    code = main(["train", "seq2seq", "--source", str(tmp_path / f"{case}.src"), "--target",
                 str(tmp_path / f"{case}.tgt"), "--max-len", "10", "--steps", "1", *TINY,
                 "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 2
    assert expected in one_error_line(capsys)


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["--attention", "dot"], "attention='dot'"), (["--label-smoothing", "1.5"], "--label-smoothing=1.5"),
     (["--val-target", "x"], "--val-target='x'")],
)  # fmt: skip
def test_bad_options_give_one_error_line(args: list[str], expected: str, files: dict[str, Path], tmp_path: Path, capsys) -> None:  # fmt: skip
    code = main(["train", "seq2seq", "--source", str(files["src"]), "--target", str(files["tgt"]),
                 "--steps", "1", *TINY, *args, "--hidden", "5", "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 2
    assert expected in one_error_line(capsys)


@pytest.mark.slow
def test_translate_bad_inputs_give_one_error_line(run_dir: Path, files: dict[str, Path], tmp_path: Path, capsys) -> None:  # fmt: skip
    assert main(["translate", str(run_dir), "a", "b", "--plot", str(tmp_path / "x.png")]) == 2
    assert "expected one sentence to plot" in one_error_line(capsys)
    assert main(["translate", str(run_dir), "--file", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt': does not exist" in one_error_line(capsys)
    assert main(["translate", str(run_dir), "a", "--beam", "0"]) == 2
    assert "beam=0" in one_error_line(capsys)
    assert main(["translate", str(tmp_path / "nowhere"), "a"]) == 2
    assert "does not exist" in one_error_line(capsys)
    assert main(["train", "seq2seq", "--source", str(files["src"]), "--attention", "luong"]) == 2
    assert "attention='luong'" in one_error_line(capsys)
    assert main(["train", "seq2seq", "--out", str(tmp_path / "run")]) == 2
    assert "source=''" in one_error_line(capsys)
