"""Early stopping: stop on a plateau, end with the best validation's weights; lr groups;
ema_epochs: the moving average of the weights is what is validated, saved, kept and resumed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from doubles import LineTask
from torch import Tensor, nn

from rnnkit.config import with_budget
from rnnkit.errors import CheckpointError, InvalidArgumentError
from rnnkit.models.classifier import ClassifierConfig, TextClassifier
from rnnkit.tasks.classification import ClassifierTrainerConfig
from rnnkit.train.callbacks import Callback, EarlyStopping
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.trainer import Trainer, TrainerConfig


class ScriptedTask(LineTask):
    """Synthetic regression batches; validation returns the scripted accuracies in turn and
    records a copy of the weights it scored."""

    name, metric, maximize = "test", "val_accuracy", True

    def __init__(self, accuracies: list[float]) -> None:
        super().__init__()
        self.accuracies = accuracies
        self.scored: list[dict[str, Tensor]] = []

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        self.scored.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"val_loss": 0.0, "val_accuracy": self.accuracies[len(self.scored) - 1]}


def fit(
    tmp_path: Path, accuracies: list[float], callbacks: Sequence[Callback] = (), **options: Any
) -> tuple[nn.Module, Any, Any]:
    torch.manual_seed(0)
    model, task = nn.Linear(4, 1), ScriptedTask(accuracies)
    config = TrainerConfig(**({"epochs": len(accuracies), "lr": 0.05, "warmup_steps": 0,
                               "progress": False, "restore_best": True} | options))  # fmt: skip
    trainer = Trainer(model, task, config, tmp_path / "run", callbacks=callbacks)
    progress = trainer.fit()
    return model, task, progress


def test_stops_after_patience_evaluations_without_gain_and_restores_the_best(tmp_path) -> None:
    model, task, progress = fit(tmp_path, [0.5, 0.8, 0.7, 0.8, 0.75, 0.9, 0.95], patience=3)
    assert len(task.scored) == 5 and progress.epoch == 5  # epochs 3, 4, 5 bring no gain
    assert progress.stopped == "patience" and progress.best == 0.8
    for name, value in model.state_dict().items():  # the weights scored at epoch 2, exactly
        torch.testing.assert_close(value, task.scored[1][name], rtol=0, atol=0)
    assert not torch.equal(model.weight, task.scored[-1]["weight"])


def test_plateau_stops_and_budget_runs_out_otherwise(tmp_path) -> None:
    _, task, progress = fit(tmp_path / "flat", [0.6] * 10, patience=2)
    assert len(task.scored) == 3 and progress.stopped == "patience"
    _, task, progress = fit(tmp_path / "rising", [0.1 * i for i in range(1, 6)], patience=2)
    assert len(task.scored) == 5 and progress.stopped == "budget"


def test_patience_stops_only_after_min_steps(tmp_path) -> None:
    # 4 steps an epoch: the flat run would stop after epoch 3 (12 steps); min_steps 20 lets
    # it reach epoch 5, the first validation at or after step 20
    _, task, progress = fit(tmp_path, [0.6] * 10, patience=2, min_steps=20)
    assert len(task.scored) == 5 and progress.step == 20 and progress.stopped == "patience"
    _, task, progress = fit(tmp_path / "cap", [0.6] * 4, patience=2, min_steps=100)
    assert len(task.scored) == 4 and progress.stopped == "budget"  # the epoch cap comes first


class LearningRates(Callback):
    """The learning rate of each step."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        self.rates.append(trainer.optimizer.param_groups[0]["lr"])


def test_plateau_schedule_halves_at_each_validation_without_gain(tmp_path) -> None:
    seen = LearningRates()
    _, _, progress = fit(tmp_path, [0.5, 0.4, 0.6, 0.6, 0.3, 0.7, 0.2, 0.1], [seen],
                         schedule="plateau", min_lr_ratio=0.2, patience=0)  # fmt: skip
    assert progress.lr_drops == 5
    by_epoch = seen.rates[::4]  # 4 steps an epoch; validation after each epoch
    assert by_epoch == pytest.approx([0.05, 0.05, 0.025, 0.025, 0.0125, 0.01, 0.01, 0.01])


@pytest.mark.parametrize(("warmup", "ramp"), [(2, [0.025, 0.05, 0.05, 0.05]),
                                             (100, [0.0125, 0.025, 0.0375, 0.05])])
def test_the_warm_up_lasts_at_most_one_epoch(tmp_path, warmup, ramp) -> None:
    seen = LearningRates()  # 4 steps an epoch: a warm-up of 100 steps becomes 4
    fit(tmp_path, [0.5, 0.6], [seen], schedule="constant", warmup_steps=warmup)
    assert seen.rates == pytest.approx(ramp + [0.05] * 4)


def test_without_restore_best_the_last_weights_stay(tmp_path) -> None:
    model, task, _ = fit(tmp_path, [0.9, 0.5, 0.5], patience=2, restore_best=False)
    torch.testing.assert_close(model.weight, task.scored[-1]["weight"], rtol=0, atol=0)


def test_a_callbacks_restore_best_on_another_monitor_has_the_last_word(tmp_path) -> None:
    """The trainer restores best/ (best val_accuracy: epoch 2); the callback's own best (its
    val_loss, here the scripted accuracy itself, so the lowest: epoch 1) is put back after it."""

    class LossIsAccuracy(EarlyStopping):
        def on_eval_end(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
            super().on_eval_end(trainer, step, {"val_loss": metrics["val_accuracy"]})

    early = LossIsAccuracy(monitor="val_loss", patience=0, restore_best=True)
    model, task, progress = fit(tmp_path, [0.5, 0.9, 0.95], callbacks=[early])
    assert progress.stopped == "callback" and len(task.scored) == 2 and progress.best == 0.9
    torch.testing.assert_close(model.weight, task.scored[0]["weight"], rtol=0, atol=0)
    assert not torch.equal(model.weight, task.scored[1]["weight"])


def test_classifier_trainer_defaults_and_a_named_budget() -> None:
    default = ClassifierTrainerConfig()
    assert (default.patience, default.epochs, default.minutes, default.restore_best) == (3, 30, 14.0, True)
    assert default.min_steps == 300 and TrainerConfig(epochs=1).min_steps == 0
    named = with_budget(ClassifierTrainerConfig, {"epochs": 5})
    assert (named.epochs, named.steps, named.minutes, named.patience) == (5, None, None, 3)
    assert with_budget(ClassifierTrainerConfig, {"epochs": None}).minutes == 14.0
    assert not TrainerConfig(epochs=1).restore_best  # a language model keeps its last weights


@pytest.mark.parametrize("freeze", [False, True])
def test_pretrained_embedding_gets_its_own_lower_learning_rate(tmp_path, freeze: bool) -> None:
    matrix = np.random.default_rng(0).standard_normal((10, 6)).astype(np.float32)
    config = ClassifierConfig(vocab_size=10, embedding_size=6, hidden_size=4,
                              embedding_lr_scale=0.25, freeze_embeddings=freeze)  # fmt: skip
    model = TextClassifier(config, matrix)
    groups = model.param_groups()
    embedding = model.embedding.weight
    assert [g["lr_scale"] for g in groups] == ([1.0] if freeze else [1.0, 0.25])
    assert sum(p is embedding for g in groups for p in g["params"]) == (0 if freeze else 1)
    trainer = Trainer(model, ScriptedTask([0.5]), TrainerConfig(epochs=1, lr=0.01, precision="fp32"),
                      tmp_path)  # the optimizer only: no training step of this model on this task
    optimizer = trainer._make_optimizer()
    assert len(optimizer.param_groups) == len(groups)
    random_init = TextClassifier(config)  # not pretrained: trained at the full rate
    assert [g["lr_scale"] for g in random_init.param_groups()] == ([1.0] if freeze else [1.0, 1.0])


class TwoRates(nn.Linear):
    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": [self.weight], "lr_scale": 1.0}, {"params": [self.bias], "lr_scale": 0.5}]


def test_trainer_schedules_each_group_at_its_lr_scale(tmp_path) -> None:
    model = TwoRates(4, 1)
    trainer = Trainer(model, ScriptedTask([0.5, 0.6]), TrainerConfig(epochs=2, lr=0.04,
                      warmup_steps=0, progress=False), tmp_path)  # fmt: skip
    trainer.fit()
    full, half = (group["lr"] for group in trainer.optimizer.param_groups)
    assert half == pytest.approx(full / 2) and full == pytest.approx(trainer.learning_rate(7, 0))


# ---- ema_epochs ----
STEPS_PER_EPOCH = 4  # ScriptedTask's


class Trajectory(Callback):
    """The weights after each optimizer step."""

    def __init__(self) -> None:
        self.weights: list[dict[str, Tensor]] = []

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        self.weights.append({k: v.clone() for k, v in trainer.model.state_dict().items()})


def moving_average(weights: list[dict[str, Tensor]], momentum: float) -> list[dict[str, Tensor]]:
    """The average after each step: the first step's weights, then a lerp toward each."""
    averages = [weights[0]]
    for step in weights[1:]:
        last = averages[-1]
        averages.append({k: torch.lerp(last[k], step[k], 1 - momentum) for k in step})
    return averages


def assert_same(a: dict[str, Tensor], b: dict[str, Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("ema_epochs", [0.5, 2.0])
def test_the_average_is_validated_saved_and_restored(tmp_path, ema_epochs: float) -> None:
    trajectory = Trajectory()
    model, task, progress = fit(
        tmp_path, [0.5, 0.9, 0.6, 0.7], [trajectory], ema_epochs=ema_epochs, patience=2
    )
    momentum = 1 - 1 / (ema_epochs * STEPS_PER_EPOCH)
    averages = moving_average(trajectory.weights, momentum)
    assert len(task.scored) == 4 and progress.best == 0.9
    for epoch, scored in enumerate(task.scored, start=1):
        last_step = epoch * STEPS_PER_EPOCH - 1
        assert_same(scored, averages[last_step])
        assert not torch.equal(scored["weight"], trajectory.weights[last_step]["weight"])
    best = load_checkpoint(tmp_path / "run" / "best").state_dict
    assert_same(best, task.scored[1])
    assert_same(model.state_dict(), task.scored[1])  # restore_best: the best average


def test_without_restore_best_the_model_ends_with_the_last_average(tmp_path) -> None:
    trajectory = Trajectory()
    model, task, _ = fit(tmp_path, [0.9, 0.5, 0.5], [trajectory], ema_epochs=1.0,
                         restore_best=False)  # fmt: skip
    assert_same(model.state_dict(), task.scored[-1])
    assert_same(load_checkpoint(tmp_path / "run" / "last").state_dict, task.scored[-1])
    assert not torch.equal(model.weight, trajectory.weights[-1]["weight"])


@pytest.mark.parametrize("ema_epochs", [0.0, 0.1])  # off, and a time constant under a step
def test_the_weights_as_trained_are_validated(tmp_path, ema_epochs: float) -> None:
    trajectory = Trajectory()
    _, task, _ = fit(tmp_path, [0.5, 0.6], [trajectory], ema_epochs=ema_epochs)
    for epoch, scored in enumerate(task.scored, start=1):
        assert_same(scored, trajectory.weights[epoch * STEPS_PER_EPOCH - 1])


def test_a_callbacks_restore_best_gets_the_average_it_saw(tmp_path) -> None:
    early = EarlyStopping(monitor="val_accuracy", patience=5, restore_best=True)
    model, task, _ = fit(tmp_path, [0.5, 0.9, 0.6], [early], ema_epochs=1.0, restore_best=False)
    assert_same(model.state_dict(), task.scored[1])


def run_epochs(out: Path, epochs: int, resume: bool, **options: Any) -> tuple[nn.Module, Any]:
    torch.manual_seed(0)
    model, task = nn.Linear(4, 1), ScriptedTask([0.1 * i for i in range(1, 7)])
    config = TrainerConfig(epochs=epochs, lr=0.05, warmup_steps=0, schedule="constant",
                           progress=False, **options)  # fmt: skip
    Trainer(model, task, config, out).fit(resume=resume)
    return model, task


def test_a_resumed_run_continues_both_the_trained_and_the_averaged_weights(tmp_path) -> None:
    straight, straight_task = run_epochs(tmp_path / "straight", 4, False, ema_epochs=1.5)
    run_epochs(tmp_path / "split", 2, False, ema_epochs=1.5)
    resumed, resumed_task = run_epochs(tmp_path / "split", 4, True, ema_epochs=1.5)
    for name, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0)
    for a, b in zip(straight_task.scored[2:], resumed_task.scored, strict=True):
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    last = load_checkpoint(tmp_path / "split" / "last")
    trained = last.trainer_state["trained_weights"]
    assert not torch.equal(trained["weight"], last.state_dict["weight"])


def test_resuming_with_another_ema_epochs_is_refused(tmp_path) -> None:
    run_epochs(tmp_path, 1, False, ema_epochs=1.0)
    with pytest.raises(CheckpointError, match=r"trainer\.ema_epochs"):
        run_epochs(tmp_path, 2, True, ema_epochs=0.5)


@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf"), "1", True, 1e6])
def test_a_bad_ema_epochs_is_refused_by_name(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"ema_epochs.*expected"):
        TrainerConfig(epochs=1, ema_epochs=value)


def test_a_bad_min_steps_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgumentError, match="min_steps=-1"):
        TrainerConfig(epochs=1, min_steps=-1)
