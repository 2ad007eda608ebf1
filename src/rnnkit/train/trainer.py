"""The one training loop, shared by language models and classifiers.

A :class:`Task` supplies batches, the loss of one batch and the validation metrics; the
:class:`Trainer` does the rest: AdamW/Adam, warm-up + cosine schedule, gradient-norm clipping,
a budget in epochs, steps or minutes, validation every ``eval_every`` steps (or each epoch),
the best checkpoint by the task's metric, early stopping, a progress bar, a JSONL metrics log,
a PNG loss curve, and exact resume.

Run directory::

    <out>/config.json      the resolved run config (model, vectorizer, data, trainer)
          metrics.jsonl    one JSON record per line: train_loss every log_every steps, and
                           the task's val_* metrics at each validation
          loss.png         training and validation loss against steps
          best/            checkpoint with the best validation metric (what generate/predict use)
          last/            checkpoint + trainer_state.pt, written at each validation (resume)

Resuming restores weights, optimizer, schedule position, RNG states, data position and the
task's own state (a language model's carried hidden state), so an interrupted run continues
exactly where its last checkpoint stood. Ctrl-C leaves the last complete checkpoint intact.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from rnnkit.errors import invalid
from rnnkit.train.checkpoint import (
    MODEL_KEYS,
    capture_rng_state,
    check_output_dir,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnkit.train.device import autocast, resolve_device, resolve_precision
from rnnkit.train.metrics import MetricLog, RunningMean, plot_curves

OPTIMIZERS = ("adamw", "adam")
RESUME_KEYS = (*MODEL_KEYS, "data")  # config sections a resumed run must keep unchanged


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python's random: same seed, same run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


SCHEDULES = ("cosine", "constant")


@dataclass
class TrainerConfig:
    """Optimisation, budget and bookkeeping settings (CLI flags map 1:1 to these fields)."""

    optimizer: str = "adamw"  # adamw | adam
    lr: float = 2e-3  # peak learning rate
    weight_decay: float = 0.0  # decoupled weight decay (AdamW)
    clip_norm: float = 5.0  # max global gradient norm; 0 turns clipping off
    schedule: str = "cosine"  # cosine (to min_lr_ratio * lr) | constant, after warm-up
    warmup_steps: int = 50  # linear warm-up from lr / warmup_steps
    min_lr_ratio: float = 0.1  # where the cosine schedule ends, as a fraction of lr
    epochs: int | None = None  # budget: passes over the training data
    steps: int | None = None  # budget: optimizer steps
    minutes: float | None = None  # budget: wall-clock minutes (whichever budget ends first)
    eval_every: int = 0  # steps between validation + checkpoint; 0 = at each epoch's end
    log_every: int = 50  # steps between training-loss records in metrics.jsonl
    patience: int = 0  # stop after this many validations without improvement; 0 = never
    restore_best: bool = True  # end with the best checkpoint's weights in the model
    seed: int = 0  # seeds weights, data order, dropout and sampling
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | fp32 | bf16 (autocast; weights stay fp32)
    progress: bool = True  # show a progress bar

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise invalid("optimizer", self.optimizer, "adamw or adam")
        if self.schedule not in SCHEDULES:
            raise invalid("schedule", self.schedule, "cosine or constant")
        if not self.lr > 0:
            raise invalid("lr", self.lr, "a learning rate > 0")
        if self.clip_norm < 0:
            raise invalid("clip_norm", self.clip_norm, "a norm >= 0 (0 = no clipping)")
        for name in ("epochs", "steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise invalid(name, value, "a positive int")
        if self.minutes is not None and not self.minutes > 0:
            raise invalid("minutes", self.minutes, "a number of minutes > 0")
        if self.epochs is None and self.steps is None and self.minutes is None:
            raise invalid("budget", None, "one of epochs, steps or minutes")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Task(Protocol):
    """What the trainer needs from a task (see rnnkit.tasks for the two implementations)."""

    metric: str  # the validation metric that picks the best checkpoint, e.g. "val_loss"
    maximize: bool  # True when a larger metric is better (accuracy), False for losses
    unit: str  # what train_step counts: "tok" or "ex", for the throughput display

    def batches_per_epoch(self) -> int: ...
    def train_batches(self, epoch: int, start: int) -> Iterator[Any]: ...
    def train_step(self, model: nn.Module, batch: Any) -> tuple[Tensor, int]: ...
    def evaluate(self, model: nn.Module) -> dict[str, float]: ...  # {"val_loss": ..., ...}
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
    def vocab(self) -> dict[str, Any]: ...


@dataclass
class Progress:
    """Where training stands; saved in trainer_state.pt so a resumed run continues here."""

    step: int = 0
    epoch: int = 0
    batch: int = 0  # next batch index within the epoch
    best: float | None = None
    bad_evals: int = 0
    elapsed: float = 0.0  # training seconds so far, across resumes
    last_eval_step: int = -1
    stopped: str = ""  # why training ended: "patience" (early stopping) or "budget"


class Trainer:
    """Train ``model`` on ``task`` into ``out``; ``run_config`` is written as config.json."""

    def __init__(
        self, model: nn.Module, task: Task, config: TrainerConfig, out: str | Path, run_config: dict
    ) -> None:
        self.model, self.task, self.config = model, task, config
        self.out, self.run_config = Path(out), run_config
        self.device = resolve_device(config.device)
        self.dtype = resolve_precision(config.precision, self.device)
        self.progress = Progress()

    # ---- public ----
    def fit(self, resume: bool = False) -> Progress:
        """Train until the budget ends or early stopping; returns the final progress."""
        resuming = check_output_dir(self.out, self.run_config, resume, RESUME_KEYS)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(self.run_config, indent=2) + "\n")
        self.model.to(self.device)
        self.optimizer = self._make_optimizer()
        if resuming:
            self._restore()
        self.log = MetricLog(self.out / "metrics.jsonl")
        try:
            self._loop()
        finally:
            if not plot_curves(self.out / "metrics.jsonl", self.out / "loss.png"):
                print("loss.png not drawn: matplotlib is missing (pip install 'rnnkit[plot]')")
        if self.config.restore_best and (self.out / "best").is_dir():
            best = load_checkpoint(self.out / "best", map_location=self.device)
            self.model.load_state_dict(best.state_dict)
        return self.progress

    def planned_steps(self) -> int | None:
        """Total optimizer steps the step/epoch budget allows (None for a minutes-only budget)."""
        limits = [self.config.steps] if self.config.steps else []
        if self.config.epochs:
            limits.append(self.config.epochs * self.task.batches_per_epoch())
        return min(limits) if limits else None

    def learning_rate(self, step: int, elapsed: float) -> float:
        """Warm-up then cosine (or constant) learning rate for the next step."""
        cfg = self.config
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        if cfg.schedule == "constant":
            return cfg.lr * warm
        done = [step / total] if (total := self.planned_steps()) else []
        if cfg.minutes:
            done.append(elapsed / (cfg.minutes * 60))
        fraction = min(1.0, max(done))
        cosine = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (
            1 + math.cos(math.pi * fraction)
        )
        return cfg.lr * warm * cosine

    # ---- loop ----
    def _loop(self) -> None:
        p, cfg = self.progress, self.config
        total = self.planned_steps()
        bar = tqdm(
            total=total, initial=p.step, disable=not cfg.progress, unit="step", dynamic_ncols=True
        )
        running, counted, started = RunningMean(), 0, time.monotonic() - p.elapsed
        session_start = time.monotonic()
        stop = self._budget_spent()
        try:
            while not stop:
                for batch in self.task.train_batches(p.epoch, p.batch):
                    lr = self.learning_rate(p.step, p.elapsed)
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr * group.get("lr_scale", 1.0)
                    loss, count = self._train_step(batch)
                    p.step, p.batch, p.elapsed = p.step + 1, p.batch + 1, time.monotonic() - started
                    running.update(loss, count)
                    counted += count
                    bar.update()
                    bar.set_postfix(
                        self._postfix(running.mean, counted / (time.monotonic() - session_start))
                    )
                    if p.step % cfg.log_every == 0:
                        self.log.append(
                            {
                                "step": p.step,
                                "epoch": p.epoch,
                                "train_loss": running.mean,
                                "lr": self.optimizer.param_groups[0]["lr"],
                            }
                        )
                        running.reset()
                    stop = self._budget_spent()
                    if (cfg.eval_every and p.step % cfg.eval_every == 0) or stop:
                        stop = self._validate(bar) or stop
                    if stop:
                        break
                else:
                    p.epoch, p.batch = p.epoch + 1, 0
                    if not cfg.eval_every or self._budget_spent():
                        stop = self._validate(bar) or self._budget_spent()
            p.stopped = "patience" if cfg.patience and p.bad_evals >= cfg.patience else "budget"
        except KeyboardInterrupt:
            bar.close()
            print(
                f"interrupted at step {p.step}; {self.out / 'last'} holds the last complete checkpoint: continue with --resume"
            )
            raise
        bar.close()

    def _postfix(self, loss: float, rate: float) -> dict[str, str]:
        """Progress-bar fields: running loss, throughput, and the ETA of a minutes budget."""
        fields = {"loss": f"{loss:.3f}", f"{self.task.unit}/s": f"{rate:.0f}"}
        if self.planned_steps() is None and self.config.minutes:
            left = max(0.0, self.config.minutes * 60 - self.progress.elapsed)
            fields["eta"] = f"{int(left // 60)}:{int(left % 60):02d}"
        return fields

    def _train_step(self, batch: Any) -> tuple[float, int]:
        self.model.train()
        with autocast(self.device, self.dtype):
            loss, count = self.task.train_step(self.model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.clip_norm:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        self.optimizer.step()
        return loss.item(), count

    def _budget_spent(self) -> bool:
        p, total = self.progress, self.planned_steps()
        out_of_time = self.config.minutes is not None and p.elapsed >= self.config.minutes * 60
        return out_of_time or (total is not None and p.step >= total)

    def _validate(self, bar: tqdm) -> bool:
        """Evaluate, log, save best/ and last/; return True when early stopping triggers."""
        p = self.progress
        if p.last_eval_step == p.step:
            return False
        self.model.eval()
        with torch.no_grad(), autocast(self.device, self.dtype):
            metrics = self.task.evaluate(self.model)
        p.last_eval_step = p.step
        self.log.append(
            {"step": p.step, "epoch": p.epoch, "elapsed": round(p.elapsed, 2), **metrics}
        )
        value = metrics[self.task.metric]
        improved = p.best is None or (value > p.best if self.task.maximize else value < p.best)
        p.best, p.bad_evals = (value, 0) if improved else (p.best, p.bad_evals + 1)
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        bar.write(
            f"step {p.step:>6}  epoch {p.epoch}  val  {shown}" + ("  (best)" if improved else "")
        )
        weights = self.model.state_dict()
        if improved:
            save_checkpoint(self.out / "best", weights, self.run_config, self.task.vocab())
        save_checkpoint(
            self.out / "last", weights, self.run_config, self.task.vocab(), self._trainer_state()
        )
        return bool(self.config.patience) and p.bad_evals >= self.config.patience

    # ---- state ----
    def _make_optimizer(self) -> torch.optim.Optimizer:
        """One parameter group, or the model's own ``param_groups()`` (each with an
        ``lr_scale``, the fraction of the scheduled learning rate it gets)."""
        cls = torch.optim.AdamW if self.config.optimizer == "adamw" else torch.optim.Adam
        groups = getattr(self.model, "param_groups", None)
        if groups is None:
            groups = [{"params": [q for q in self.model.parameters() if q.requires_grad]}]
        else:
            groups = groups()
        return cls(groups, lr=self.config.lr, weight_decay=self.config.weight_decay)

    def _trainer_state(self) -> dict[str, Any]:
        return {
            "progress": asdict(self.progress),
            "optimizer": self.optimizer.state_dict(),
            "rng": capture_rng_state(),
            "task": self.task.state_dict(),
        }

    def _restore(self) -> None:
        ckpt = load_checkpoint(self.out / "last", map_location=self.device)
        self.model.load_state_dict(ckpt.state_dict)
        state = ckpt.trainer_state or {}
        self.optimizer.load_state_dict(state["optimizer"])
        self.progress = Progress(**state["progress"])
        self.task.load_state_dict(state["task"])
        restore_rng_state(state["rng"])
        print(f"resuming {self.out} at step {self.progress.step} (epoch {self.progress.epoch})")
