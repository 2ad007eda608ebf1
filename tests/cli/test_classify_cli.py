"""`rnnkit train classify`, `predict`, `evaluate` and `similar` in-process, and their bad inputs."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import random
from pathlib import Path

import pytest

from rnnkit.cli.main import main

CLASSES = ["World", "Sports", "Business", "Sci/Tech"]  # AG News' classes.txt
CUES = ["treaty", "goal", "shares", "software"]
FILLER = ["the", "a", "of", "new", "report", "says", "after", "week", "big"]


def ag_rows(n: int, seed: int) -> str:
    """AG-News-like CSV without header: "class index 1-4","title","description"."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        k = rng.randrange(4)
        title = " ".join(rng.choice(FILLER) for _ in range(rng.randint(1, 6)))
        body = " ".join([*(rng.choice(FILLER) for _ in range(rng.randint(1, 12))), CUES[k]])
        lines.append(f'"{k + 1}","{title}","{body}, with a comma\nand a newline"')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ag")
    paths = {name: root / name for name in ("train.csv.gz", "test.csv", "classes.txt")}
    paths["train.csv.gz"].write_bytes(gzip.compress(ag_rows(480, 0).encode()))
    paths["test.csv"].write_text(ag_rows(120, 1))
    paths["classes.txt"].write_text("\n".join(CLASSES) + "\n")
    paths["vectors.txt"] = root / "vectors.txt"
    paths["vectors.txt"].write_text(
        "goal 1 0 0\nmatch 0.9 0.1 0\ntreaty 0 1 0\nwar 0 0.95 0.1\nshares 0 0 1\n"
    )
    return paths


def ag_flags(files: dict[str, Path]) -> list[str]:
    return ["--no-header", "--label-col", "0", "--text-col", "1", "2",
            "--classes", str(files["classes.txt"])]  # fmt: skip


@pytest.fixture(scope="module")
def trained(files: dict[str, Path], tmp_path_factory) -> tuple[Path, str]:
    """The run directory and what training printed (stdout) and logged (stderr)."""
    out = tmp_path_factory.mktemp("runs") / "ag"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = main(["train", "classify", "--train", str(files["train.csv.gz"]), "--test", str(files["test.csv"]),
                 *ag_flags(files), "--embeddings", str(files["vectors.txt"]), "--bidirectional",
                 "--pooling", "attention", "--hidden", "16", "--max-len", "20", "--batch-size", "16",
                 "--epochs", "4", "--lr", "0.02", "--warmup-steps", "5", "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    return out, printed.getvalue()


@pytest.fixture
def run_dir(trained: tuple[Path, str]) -> Path:
    return trained[0]


def one_error_line(capsys) -> str:
    """The one error line on stderr (the lines before it are the library's progress log)."""
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("rnnkit")]
    assert len(errors) == 1 and err[-1] == errors[0], err
    assert "Traceback" not in "\n".join(err)
    return errors[0]


@pytest.mark.slow
def test_train_prints_coverage_padding_and_the_test_table(trained: tuple[Path, str]) -> None:
    run_dir, printed = trained
    assert "embeddings: 3 of " in printed  # goal, treaty, shares of the vocabulary
    assert "epoch 3: 27 batches of 16, padding" in printed
    assert "accuracy" in printed and "confusion matrix" in printed
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "classify" and config["labels"]["names"] == CLASSES
    assert config["model"]["embedding_size"] == 3 and config["model"]["bidirectional"]
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    assert metrics["accuracy"] >= 0.9 and metrics["n"] == 120  # one cue word per text


@pytest.mark.slow
def test_predict_arguments_file_and_stdin(
    run_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    assert main(["predict", str(run_dir), "the goal of the week", "shares after a report"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["Sports", "Business"]
    texts = tmp_path / "texts.txt"
    texts.write_text("a new treaty\nsoftware says\n")
    assert main(["predict", str(run_dir), "--file", str(texts), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in records] == ["World", "Sci/Tech"]
    assert set(records[0]["probabilities"]) == set(CLASSES)
    assert sum(records[0]["probabilities"].values()) == pytest.approx(1.0)
    monkeypatch.setattr("sys.stdin", io.StringIO("a new treaty\n"))
    assert main(["predict", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "World"


@pytest.mark.slow
def test_evaluate_prints_the_table_and_json(run_dir: Path, files, capsys) -> None:
    args = ["evaluate", str(run_dir), "--data", str(files["test.csv"]), *ag_flags(files)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "confusion matrix" in out and "Sci/Tech" in out
    assert main([*args, "--json"]) == 0
    saved = json.loads((run_dir / "test_metrics.json").read_text())
    assert json.loads(capsys.readouterr().out)["confusion"] == saved["confusion"]
    # Column flags left out are those of training (no header, label 0, text 1 2).
    assert main(["evaluate", str(run_dir), "--data", str(files["test.csv"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["confusion"] == saved["confusion"]


def test_evaluate_checks_a_classes_file_against_the_model(
    run_dir: Path, files, tmp_path: Path, capsys
) -> None:
    other = tmp_path / "classes.txt"
    other.write_text("a\nb\nc\nd\n")
    args = ["evaluate", str(run_dir), "--data", str(files["test.csv"]), "--classes", str(other)]
    assert main(args) == 2
    assert one_error_line(capsys) == (
        f"rnnkit: error: {other}: classes ['a', 'b', 'c', 'd']; expected the model's "
        "['World', 'Sports', 'Business', 'Sci/Tech']"
    )


def test_similar_neighbours_and_cosine(files, capsys) -> None:
    assert main(["similar", str(files["vectors.txt"]), "goal", "--top", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["match", "0.9939"] and len(out) == 3
    assert main(["similar", str(files["vectors.txt"]), "goal", "shares"]) == 0
    assert capsys.readouterr().out.strip() == "cosine(goal, shares) = 0.0000"


def train(files: dict[str, Path], tmp_path: Path, train: Path, *extra: str) -> int:
    return main(["train", "classify", "--train", str(train), "--out", str(tmp_path / "run"),
                 "--epochs", "1", "--hidden", "8", "--no-progress", *extra])  # fmt: skip


BAD_FILES = {
    "missing_text.csv": (b"label,text\npos,fine\nneg,\n", "missing_text.csv:3: empty text"),
    "missing_label.csv": (b"label,text\npos,fine\n,bad\n", "missing_label.csv:3: empty label"),
    "latin1.csv": (b"label,text\npos,fine\nneg,caf\xe9\n", "latin1.csv:3: bytes b'\\xe9\\n'"),
    "empty.csv": (b"", "empty.csv: no rows; expected rows with a text and a label"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_training_files_exit_2_with_one_line(files, tmp_path: Path, capsys, name: str) -> None:
    content, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    assert train(files, tmp_path, path) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "run").exists()  # training never started


def test_bad_columns_labels_and_vectors_exit_2(files, tmp_path: Path, capsys) -> None:
    path = files["train.csv.gz"]
    assert train(files, tmp_path, path, "--no-header", "--text-col", "7") == 2
    assert "--text-col='7': expected an index 0..2 (the file has no header)" in one_error_line(
        capsys
    )
    test = tmp_path / "test.csv"
    test.write_text('"1","a","b"\n"9","c","d"\n')
    assert train(files, tmp_path, path, *ag_flags(files), "--test", str(test)) == 2
    assert "test.csv:2: label '9' was not seen in training" in one_error_line(capsys)
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("goal 1 0 0\ntreaty 0 1\n")
    assert train(files, tmp_path, path, *ag_flags(files), "--embeddings", str(vectors)) == 2
    assert "vectors.txt:2: 2 values after the word; expected 3" in one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_bad_predict_and_similar_arguments_exit_2(files, tmp_path: Path, capsys) -> None:
    assert main(["predict", str(tmp_path / "nowhere"), "text"]) == 2
    assert "nowhere': does not exist" in one_error_line(capsys)
    assert main(["similar", str(files["vectors.txt"]), "zebra"]) == 2
    assert "word='zebra'" in one_error_line(capsys)
    assert main(["similar", str(files["vectors.txt"]), "goal", "war", "shares"]) == 2
    assert "one word (neighbours) or two words" in one_error_line(capsys)


@pytest.mark.slow
def test_predict_refuses_an_empty_or_undecodable_file(
    run_dir: Path, tmp_path: Path, capsys
) -> None:
    empty, latin = tmp_path / "empty.txt", tmp_path / "latin.txt"
    empty.write_bytes(b"")
    latin.write_bytes(b"fine\ncaf\xe9\n")
    assert main(["predict", str(run_dir), "--file", str(empty)]) == 2
    assert "empty.txt: empty; expected one text per line" in one_error_line(capsys)
    assert main(["predict", str(run_dir), "--file", str(latin)]) == 2
    assert "latin.txt:2: bytes" in one_error_line(capsys)


@pytest.mark.slow
def test_defaults_use_the_bundled_vectors_and_stop_when_validation_stops_improving(
    files, tmp_path: Path, capsys
) -> None:
    assert train(files, tmp_path, files["train.csv.gz"], *ag_flags(files), "--max-len", "20",
                 "--epochs", "30", "--lr", "0.02", "--min-steps", "0") == 0  # fmt: skip
    logged = capsys.readouterr().err
    assert "of the running words covered" in logged  # the bundled vectors' coverage line
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["embeddings"] == "default" and config["data"]["standardize"] == "glove"
    assert config["model"]["embedding_size"] == 50 and config["trainer"]["patience"] == 3
    validations = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    epochs = [r["epoch"] for r in validations if "val_accuracy" in r]
    assert len(epochs) < 30  # stopped by patience, long before the cap
    assert main(["train", "classify", "--train", str(files["train.csv.gz"]), *ag_flags(files),
                 "--embeddings", "none", "--epochs", "1", "--hidden", "8", "--no-progress",
                 "--out", str(tmp_path / "random")]) == 0  # fmt: skip
    assert "running words" not in capsys.readouterr().err
    config = json.loads((tmp_path / "random" / "config.json").read_text())
    assert config["model"]["embedding_size"] == 100
