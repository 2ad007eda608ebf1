"""Tests for rnnkit.train.metrics against hand-computed values."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.errors import DataError, InvalidArgumentError
from rnnkit.train.metrics import (
    MetricLog,
    RunningMean,
    bits_per_char,
    classification_report,
    perplexity,
    plot_curves,
)

# 3 classes seen plus "d", never true nor predicted (zero division must give 0.0).
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 1, 0, 1, 2, 2]
NAMES = ["a", "b", "c", "d"]


def test_language_model_units() -> None:
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)
    assert bits_per_char(0.0) == 0.0
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(50.0)) == pytest.approx(50.0)
    assert math.isfinite(perplexity(699.0))
    assert perplexity(701.0) == math.inf
    assert perplexity(1e6) == math.inf


def test_report_matches_hand_computed_values() -> None:
    r = classification_report(Y_TRUE, Y_PRED, NAMES)
    assert r.confusion == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert r.support == [3, 2, 1, 0]
    assert r.accuracy == pytest.approx(4 / 6)
    assert r.precision == pytest.approx([1.0, 0.5, 0.5, 0.0])
    assert r.recall == pytest.approx([2 / 3, 0.5, 1.0, 0.0])
    assert r.f1 == pytest.approx([0.8, 0.5, 2 / 3, 0.0])
    assert r.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3 + 0.0) / 4)


def test_tensor_inputs_and_predicted_but_absent_class() -> None:
    r = classification_report(torch.tensor([0, 0, 1]), torch.tensor([[1], [0], [1]]), ["x", "y"])
    assert r.confusion == [[1, 1], [0, 1]]
    assert r.precision == pytest.approx([1.0, 0.5])
    assert r.recall == pytest.approx([0.5, 1.0])
    only_wrong = classification_report([0, 0], [1, 1], ["x", "y"])  # y predicted, never true
    assert only_wrong.precision == [0.0, 0.0] and only_wrong.recall == [0.0, 0.0]
    assert only_wrong.accuracy == 0.0 and only_wrong.macro_f1 == 0.0


def test_report_against_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")  # in the dev extra, so CI always runs it
    g = torch.Generator().manual_seed(0)
    y_true = torch.randint(0, 5, (300,), generator=g).tolist()
    y_pred = [t if torch.rand(1, generator=g) < 0.6 else (t + 1) % 5 for t in y_true]
    r = classification_report(y_true, y_pred, list("abcde"))
    assert r.macro_f1 == pytest.approx(
        metrics.f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    assert r.confusion == metrics.confusion_matrix(y_true, y_pred).tolist()
    assert r.precision == pytest.approx(
        metrics.precision_score(y_true, y_pred, average=None, zero_division=0).tolist()
    )
    assert r.recall == pytest.approx(
        metrics.recall_score(y_true, y_pred, average=None, zero_division=0).tolist()
    )
    assert r.accuracy == pytest.approx(metrics.accuracy_score(y_true, y_pred))


def test_report_validates_its_inputs() -> None:
    with pytest.raises(InvalidArgumentError, match="y_pred"):
        classification_report([0, 1], [0], ["a", "b"])
    with pytest.raises(InvalidArgumentError, match=r"y_true=2: expected class indices in \[0, 2\)"):
        classification_report([0, 2], [0, 1], ["a", "b"])
    with pytest.raises(InvalidArgumentError, match="y_true"):
        classification_report([], [], ["a"])


def test_to_dict_is_json_ready_and_table_is_aligned() -> None:
    r = classification_report(Y_TRUE, Y_PRED, NAMES)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["per_class"]["a"] == {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    assert d["confusion"][0] == [2, 1, 0, 0] and d["n"] == 6 and d["labels"] == NAMES
    table = r.format_table()
    assert "confusion matrix (rows = true, columns = predicted)" in table
    lines = table.splitlines()
    assert lines[1].split() == ["a", "1.0000", "0.6667", "0.8000", "3"]
    assert len({len(line) for line in lines[:7]}) == 1  # score table: one width
    assert lines[0].index("f1") + 2 == lines[1].index("0.8000") + 6  # right-aligned
    matrix = lines[lines.index("confusion matrix (rows = true, columns = predicted)") + 1 :]
    assert matrix[0].split() == NAMES
    assert matrix[1].split() == ["a", "2", "1", "0", "0"]
    assert len({len(line) for line in matrix}) == 1  # columns line up


def test_running_mean_is_weighted() -> None:
    m = RunningMean()
    assert math.isnan(m.mean)
    m.update(2.0, weight=1)
    m.update(5.0, weight=3)
    assert m.mean == pytest.approx((2 + 15) / 4)
    m.reset()
    assert math.isnan(m.mean)


def test_metric_log_appends_and_reads_back(tmp_path: Path) -> None:
    log = MetricLog(tmp_path / "run" / "metrics.jsonl")
    assert log.read() == []
    log.append({"step": 1, "train_loss": 2.5})
    log.append({"step": 2, "val_loss": float("nan"), "lr": torch.tensor(0.1)})
    assert MetricLog(log.path).read() == [
        {"step": 1, "train_loss": 2.5},
        {"step": 2, "val_loss": None, "lr": pytest.approx(0.1)},
    ]
    assert len(log.path.read_text().splitlines()) == 2


def test_metric_log_skips_a_torn_last_line_only(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2, "trai')
    assert MetricLog(path).read() == [{"step": 1}]
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(DataError, match=r"metrics\.jsonl:2"):
        MetricLog(path).read()


def test_plot_curves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    log = MetricLog(tmp_path / "metrics.jsonl")
    for step in range(1, 6):
        log.append({"step": step, "train_loss": 3.0 / step})
    log.append({"step": 5, "val_loss": 0.9})
    png = tmp_path / "loss.png"
    assert plot_curves(log.path, png) is True
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if not installed
    assert plot_curves(log.path, tmp_path / "none.png") is False
    assert not (tmp_path / "none.png").exists()
