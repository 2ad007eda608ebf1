"""Trainer callbacks: order and arguments of the hooks, EarlyStopping, CSVLogger, TensorBoard."""

from __future__ import annotations

import ast
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.callbacks import Callback, CSVLogger, EarlyStopping, TensorBoard
from rnnkit.errors import InvalidArgumentError
from rnnkit.train.trainer import Trainer, TrainerConfig

SRC = Path(__file__).resolve().parents[2] / "src" / "rnnkit"


class Scripted:
    """A task whose validation metric follows a script: 2 batches of a regression per epoch."""

    name, metric, maximize, unit = "scripted", "val_loss", False, "ex"

    def __init__(self, values: list[float]) -> None:
        self.values = iter(values)
        generator = torch.Generator().manual_seed(0)
        self.batches = [torch.randn(4, 3, generator=generator) for _ in range(2)]

    def batches_per_epoch(self) -> int:
        return len(self.batches)

    def train_batches(self, epoch: int, start: int) -> Iterator[torch.Tensor]:
        return iter(self.batches[start:])

    def train_step(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        return (model(batch) - 1).pow(2).mean(), len(batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        value = next(self.values)
        return {"val_loss": value, "val_accuracy": 1 / value}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def vocab(self) -> dict[str, Any]:
        return {}

    def run_sections(self) -> dict[str, Any]:
        return {}


class Recorder(Callback):
    """Every hook call, with a copy of the weights at each validation."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_train_begin(self, trainer: Trainer) -> None:
        self.calls.append(("begin",))

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        self.calls.append(("step", step, sorted(logs)))

    def on_eval_end(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        self.calls.append(("eval", step, dict(metrics)))
        self.weights[step] = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    def on_train_end(self, trainer: Trainer) -> None:
        self.calls.append(("end",))


def train(tmp_path: Path, values: list[float], *callbacks: Callback, **config: Any) -> Trainer:
    torch.manual_seed(0)
    settings = {"epochs": 3, "eval_every": 1, "lr": 0.05, "warmup_steps": 0, "device": "cpu"}
    trainer = Trainer(nn.Linear(3, 1), Scripted(values), TrainerConfig(**settings | config),
                      tmp_path / "run", callbacks=callbacks, verbose=0)  # fmt: skip
    trainer.fit()
    return trainer


def test_hooks_run_in_order_with_the_metrics(tmp_path: Path) -> None:
    recorder = Recorder()
    train(tmp_path, [4.0, 3.0, 2.0, 1.0], recorder, epochs=2)
    logs = ["count", "epoch", "loss", "lr"]
    assert recorder.calls == [
        ("begin",),
        ("step", 1, logs), ("eval", 1, {"val_loss": 4.0, "val_accuracy": 0.25}),
        ("step", 2, logs), ("eval", 2, {"val_loss": 3.0, "val_accuracy": 1 / 3}),
        ("step", 3, logs), ("eval", 3, {"val_loss": 2.0, "val_accuracy": 0.5}),
        ("step", 4, logs), ("eval", 4, {"val_loss": 1.0, "val_accuracy": 1.0}),
        ("end",),
    ]  # fmt: skip


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path: Path) -> None:
    recorder = Recorder()
    early = EarlyStopping(monitor="val_loss", patience=1, restore_best=True)
    trainer = train(tmp_path, [3.0, 1.0, 2.0, 2.5, 0.5, 0.1], recorder, early)
    assert trainer.progress.step == 4 and early.stopped_step == 4  # two evals without progress
    assert early.best == 1.0 and early.best_step == 2
    final = trainer.model.state_dict()
    assert not torch.equal(recorder.weights[4]["weight"], recorder.weights[2]["weight"])
    assert all(torch.equal(final[k], recorder.weights[2][k]) for k in final)


def test_early_stopping_min_delta_mode_and_bad_monitor(tmp_path: Path) -> None:
    early = EarlyStopping(monitor="val_accuracy", min_delta=0.1)  # auto mode: max
    assert early.mode == "max"
    trainer = train(tmp_path / "a", [1.0, 0.95, 0.5], early)  # 1/0.95 gains less than 0.1
    assert trainer.progress.step == 2 and early.best == 1.0
    with pytest.raises(InvalidArgumentError, match=r"monitor='val_f2': expected one of the metrics"):
        train(tmp_path / "b", [1.0], EarlyStopping(monitor="val_f2"))
    with pytest.raises(InvalidArgumentError, match=r"mode='up'"):
        EarlyStopping(mode="up")


def test_csv_logger_writes_one_row_per_validation(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    train(tmp_path, [4.0, 3.0, 2.0, 1.0], CSVLogger(path), epochs=2)
    rows = list(csv.DictReader(path.open()))
    assert [r["step"] for r in rows] == ["1", "2", "3", "4"]
    assert list(rows[0]) == ["step", "epoch", "train_loss", "val_loss", "val_accuracy"]
    assert float(rows[2]["val_loss"]) == 2.0 and float(rows[0]["train_loss"]) > 0


def test_tensorboard_event_file_holds_the_loss_scalars(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tmp_path, [4.0, 3.0, 2.0, 1.0], TensorBoard(tmp_path / "tb"), epochs=2)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert {"train_loss", "lr", "val_loss", "val_accuracy"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train_loss")] == [1, 2, 3, 4]
    assert [e.value for e in events.Scalars("val_loss")] == [4.0, 3.0, 2.0, 1.0]


def test_library_code_never_prints() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        if "cli" in path.relative_to(SRC).parts:
            continue  # the command line owns the console
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda tmp: EarlyStopping(min_delta=float("nan")), r"^min_delta=nan: expected a finite number >= 0"),
        (lambda tmp: EarlyStopping(patience=True), r"^patience=True: expected an int >= 0, not a bool"),
        (lambda tmp: EarlyStopping(monitor=None), r"^monitor=None: expected a metric name"),
        (lambda tmp: EarlyStopping(restore_best="yes"), r"^restore_best='yes': expected True or False"),
        (lambda tmp: CSVLogger(5), r"^path=5: expected a str or os.PathLike path"),
        (lambda tmp: CSVLogger(tmp), r"^path '.*': is a directory; expected a CSV file to write"),
        (lambda tmp: CSVLogger(tmp / ("x" * 300)), r"^path '.*' \(3\d\d characters\): has a name too long"),
        (lambda tmp: CSVLogger(tmp / "log.csv", append="no"), r"^append='no': expected True or False"),
        (lambda tmp: TensorBoard(5), r"^log_dir=5: expected a str or os.PathLike path"),
        (lambda tmp: TensorBoard(tmp / "log.csv"), r"^log_dir '.*log\.csv': is a file"),
    ],
)  # fmt: skip
def test_callback_arguments_are_checked_when_made(make, pattern, tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text("")
    with pytest.raises(ValueError, match=pattern):
        make(tmp_path)
    assert EarlyStopping(patience=np.int64(2)).patience == 2
