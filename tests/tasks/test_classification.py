"""Text classification through the API: learning, save/reload, padding, labels, bad input."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data.readers import from_lists
from rnnkit.errors import DataError, InvalidArgumentError
from rnnkit.tasks.classification import (
    ClassifyDataConfig,
    class_weight_tensor,
    encode_texts,
    train_classifier,
)
from rnnkit.tasks.classifier_inference import evaluate_file, load_classifier
from rnnkit.text import TextVectorizer, padding
from rnnkit.train.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.train.trainer import TrainerConfig

CUES = {"sports": "goal match", "world": "war treaty", "tech": "chip software"}
FILLER = ["the", "a", "of", "today", "news", "report", "says", "new", "big", "after", "week"]
SMALL = {"hidden_size": 16, "embedding_size": 8, "dropout": 0.0, "embedding_dropout": 0.0}


def synthetic(n: int, seed: int) -> list[tuple[str, str]]:
    """Texts of 2-25 filler words with one cue word of their label at a random place."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(sorted(CUES))
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 25))]
        words.insert(rng.randint(0, len(words)), rng.choice(CUES[label].split()))
        rows.append((label, " ".join(words)))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]], header: bool = True) -> str:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(["label", "text"])
        writer.writerows(rows)
    return str(path)


def trainer(**options) -> TrainerConfig:
    return TrainerConfig(
        **({"epochs": 6, "lr": 2e-2, "warmup_steps": 5, "progress": False} | options)
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, str, object]:
    root = tmp_path_factory.mktemp("classify")
    data = ClassifyDataConfig(
        train=write_csv(root / "train.csv", synthetic(600, 0)),
        test=write_csv(root / "test.csv", synthetic(200, 1)), batch_size=32,
    )  # fmt: skip
    _, report = train_classifier(root / "run", data, SMALL | {"pooling": "max"}, trainer())
    return root / "run", data.test, report


@pytest.mark.slow
def test_a_tiny_model_learns_a_separable_task_and_reports_on_the_test_file(run) -> None:
    out, _, report = run
    # Chance is 1/3; one cue word decides the label, so a working model is nearly perfect.
    assert report.accuracy >= 0.95
    saved = json.loads((out / "test_metrics.json").read_text())
    assert saved["accuracy"] == report.accuracy and saved["labels"] == ["sports", "tech", "world"]
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "classify" and config["model"]["num_classes"] == 3
    assert config["labels"]["names"] == ["sports", "tech", "world"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"val_loss", "val_accuracy", "val_macro_f1"} <= set(records[-1])


@pytest.mark.slow
def test_predictions_after_save_and_reload_equal_those_before(run, tmp_path: Path) -> None:
    out, test_path, report = run
    clf = load_classifier(out)
    texts = [text for _, text in synthetic(40, 2)]
    before = clf.probabilities(texts)
    copy = save_checkpoint(tmp_path / "copy", clf.model.state_dict(), clf.config,
                           clf.vectorizer.to_dict())  # fmt: skip
    after = load_classifier(copy).probabilities(texts)
    assert torch.equal(before, after)
    # the reloaded best checkpoint scores the test file exactly as the in-memory model did
    assert evaluate_file(out, test_path).confusion == report.confusion


@pytest.mark.slow
def test_a_prediction_does_not_depend_on_the_other_texts(run) -> None:
    clf = load_classifier(run[0])
    texts = [text for _, text in synthetic(30, 3)] + ["", "goal"]  # an empty text too
    together = clf.predict(texts)
    alone = [clf.predict([text])[0] for text in texts]
    for (label, probs), (label_alone, probs_alone) in zip(together, alone, strict=True):
        assert label == label_alone
        assert probs == pytest.approx(probs_alone, abs=1e-6)
    assert clf.predict(["the goal of the match"])[0][0] == "sports"


@pytest.mark.parametrize("layout", ["folder", "jsonl"])
def test_folder_and_jsonl_data_train_with_named_classes(tmp_path: Path, layout: str) -> None:
    rows = synthetic(60, 5)
    if layout == "folder":  # aclImdb-like: <label>/<n>.txt
        for i, (label, text) in enumerate(rows):
            (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
            (tmp_path / "data" / label / f"{i}.txt").write_text(text)
        path = tmp_path / "data"
    else:
        path = tmp_path / "data.jsonl"
        path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for lab, t in rows))
    classes = tmp_path / "classes.txt"
    classes.write_text("world\nsports\ntech\n")  # display order from the file
    data = ClassifyDataConfig(train=str(path), classes=str(classes), batch_size=16)
    train_classifier(tmp_path / "run", data, SMALL, trainer(steps=2))
    assert load_classifier(tmp_path / "run").labels.names == ["world", "sports", "tech"]


def test_resume_continues_a_run(tmp_path: Path) -> None:
    data = data_files(tmp_path, synthetic(100, 6))
    train_classifier(tmp_path / "run", data, SMALL, trainer(steps=4, eval_every=2))
    progress, _ = train_classifier(tmp_path / "run", data, SMALL,
                                   trainer(steps=6, eval_every=2), resume=True)  # fmt: skip
    assert progress.step == 6
    steps = [json.loads(line).get("step") for line in (tmp_path / "run/metrics.jsonl").open()]
    assert steps == [2, 4, 6]  # validations only (log_every=50): one record per validation


def test_truncation_keeps_the_start_the_end_or_both() -> None:
    vectorizer = TextVectorizer("word").adapt(["a b c d e"])
    ids = vectorizer.encode("a b c d e")
    assert encode_texts(vectorizer, ["a b c d e"], 3) == [ids[:3]]
    assert encode_texts(vectorizer, ["a b c d e"], 3, truncate="pre") == [ids[-3:]]
    assert encode_texts(vectorizer, ["a b c d e"], 4, truncate="middle") == [ids[:1] + ids[-3:]]
    assert encode_texts(vectorizer, ["", "a"], 3) == [[], ids[:1]]
    with pytest.raises(InvalidArgumentError, match="truncate='both': expected one of"):
        ClassifyDataConfig(train="t.csv", truncate="both")


@given(st.integers(0, 60), st.integers(1, 30))
def test_the_middle_cut_keeps_a_quarter_from_the_start_and_the_rest_from_the_end(n, max_len) -> None:
    (kept,) = padding.truncate([list(range(n))], max_len, "middle")  # ids = positions
    assert len(kept) == min(n, max_len) and kept == sorted(set(kept))  # in order, no repeats
    if n > max_len:
        jumps = [i for i in range(1, max_len) if kept[i] - kept[i - 1] > 1]
        assert jumps == ([max_len // 4] if max_len // 4 else [])  # one gap, after a quarter
        assert kept[-1] == n - 1 and (max_len < 4 or kept[0] == 0)


def test_balanced_class_weights() -> None:
    targets = torch.tensor([0, 0, 0, 1])
    assert class_weight_tensor(targets, 3, "none") is None
    weights = class_weight_tensor(targets, 3, "balanced")
    torch.testing.assert_close(weights, torch.tensor([4 / 9, 4 / 3, 1.0]))  # n / (C * n_c)


def data_files(tmp_path: Path, train_rows, test_rows=None) -> ClassifyDataConfig:
    test = write_csv(tmp_path / "test.csv", test_rows) if test_rows is not None else None
    return ClassifyDataConfig(train=write_csv(tmp_path / "train.csv", train_rows), test=test)


def test_an_unseen_test_label_stops_before_training(tmp_path: Path) -> None:
    rows = synthetic(40, 0)
    data = data_files(tmp_path, rows, [*rows[:5], ("weather", "rain today")])
    with pytest.raises(
        DataError, match=r"test\.csv:7: label 'weather' was not seen in training"  # line 1: header
    ):
        train_classifier(tmp_path / "run", data, SMALL, trainer())
    assert not (tmp_path / "run").exists()


def test_training_never_starts_on_too_little(tmp_path: Path) -> None:
    one_label = data_files(tmp_path, [("a", "one text")] * 20)
    with pytest.raises(DataError, match=r"one label \('a'\); expected at least two"):
        train_classifier(tmp_path / "run", one_label, SMALL, trainer())
    bad = tmp_path / "bad.csv"
    bad.write_text("label,text\nsports,\n,no label\n")
    no_rows = ClassifyDataConfig(train=str(bad), skip_bad_rows=True)
    with pytest.raises(
        DataError, match=r"bad\.csv: no rows \(2 bad, e\.g\. .*bad\.csv:2: empty text"
    ):
        train_classifier(tmp_path / "run", no_rows, SMALL, trainer())
    assert not (tmp_path / "run").exists()


def test_embedding_size_must_match_the_vectors(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("goal 1 2\nwar 3 4\n")
    data = data_files(tmp_path, synthetic(60, 0))
    data.embeddings = str(vectors)
    with pytest.raises(InvalidArgumentError, match=r"embedding_size=8: expected 2"):
        train_classifier(tmp_path / "run", data, SMALL, trainer())


def test_data_config_refuses_bad_settings() -> None:
    for options in ({"max_len": 0}, {"truncate": "both"}, {"class_weights": "auto"},
                    {"val_fraction": 1.0}, {"standardize": "stem"}):  # fmt: skip
        with pytest.raises(InvalidArgumentError):
            ClassifyDataConfig(train="x.csv", **options)


@pytest.mark.slow
def test_from_lists_data_evaluates_like_a_file(run) -> None:
    clf = load_classifier(run[0])
    rows = synthetic(20, 4)
    report = clf.evaluate(from_lists([t for _, t in rows], [label for label, _ in rows]))
    assert sum(report.support) == 20
    with pytest.raises(DataError, match="label 'weather' was not seen in training"):
        clf.evaluate(from_lists(["sunny"], ["weather"]))
    assert load_checkpoint(run[0] / "best").config["task"] == "classify"
