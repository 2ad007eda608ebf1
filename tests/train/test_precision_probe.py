"""--precision auto on the CPU times the run's own training step, and leaves no trace of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from doubles import LineTask
from torch import Tensor, nn

from rnnkit.nn import precision
from rnnkit.train.trainer import Trainer, TrainerConfig


class Settings:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)


class Dropped(nn.Module):
    """A linear model with dropout (its step draws random numbers) and recorded settings."""

    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.config = Settings(dropout=dropout)
        self.linear, self.dropout = nn.Linear(4, 1), nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.dropout(x))


class CarryingTask(LineTask):
    """Two batches an epoch; its state is a counter that each training step moves."""

    name, metric, maximize = "probe", "val_accuracy", True

    def __init__(self) -> None:
        super().__init__(points=8, batches=2)
        self.carried = 0

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        self.carried += 1
        return super().train_step(model, batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return {"val_loss": 0.0, "val_accuracy": 0.5}

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        return {"carried": self.carried}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.carried = state["carried"]


def train(tmp_path: Path, model: nn.Module, task: CarryingTask | None = None, **options: Any):
    config = TrainerConfig(**({"epochs": 1, "progress": False} | options))
    trainer = Trainer(model, task or CarryingTask(), config, tmp_path / "run")
    trainer.fit()
    return trainer


@pytest.mark.parametrize("bf16_wins", [True, False])
def test_auto_times_the_runs_own_step_and_leaves_no_trace(tmp_path, monkeypatch, bf16_wins):
    model, task, keys = Dropped(), CarryingTask(), []

    def timed(key: str, step) -> bool:
        rng, carried = torch.get_rng_state(), task.carried
        for bf16 in (True, False, True):
            step(bf16)
            assert torch.equal(torch.get_rng_state(), rng)  # dropout's draws forked away
            if not keys:  # the first run's model, before its training
                assert all(p.grad is None for p in model.parameters())
                assert task.carried == carried  # the task's state put back
        keys.append(key)
        return bf16_wins

    monkeypatch.setattr(precision, "bf16_step_faster", timed)
    trainer = train(tmp_path, model, task, precision="auto")
    assert len(keys) == 1 and keys[0].startswith("probe:")
    assert trainer.dtype == (torch.bfloat16 if bf16_wins else torch.float32)
    assert trainer.run_config["resolved"]["precision"] == ("bf16" if bf16_wins else "fp32")
    same = train(tmp_path / "same", Dropped(), precision="auto")  # the same settings
    assert keys[1] == keys[0] and same.dtype == trainer.dtype
    train(tmp_path / "other", Dropped(dropout=0.25), precision="auto")
    assert keys[2] != keys[0]  # other settings: measured apart


def test_named_precisions_and_models_without_settings_are_not_timed(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "bf16_step_faster", lambda *a: pytest.fail("timed"))
    monkeypatch.setattr(precision, "bf16_training_faster", lambda: False)
    assert train(tmp_path / "fp32", Dropped(), precision="fp32").dtype == torch.float32
    plain = nn.Sequential(nn.Linear(4, 1))  # no settings to key an answer by
    assert train(tmp_path / "plain", plain, precision="auto").dtype == torch.float32
