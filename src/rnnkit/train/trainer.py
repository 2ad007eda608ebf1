"""The one training loop, shared by language models and classifiers.

A :class:`Task` supplies batches, the loss of one batch and the validation metrics; the
:class:`Trainer` does the rest: AdamW/Adam, warm-up + cosine schedule, gradient-norm clipping,
a budget in epochs, steps or minutes, validation every ``eval_every`` steps (or each epoch),
the best checkpoint by the task's metric, early stopping (``patience``; ``restore_best`` ends
with best/'s weights in the model), parameter groups with their own ``lr_scale``, callbacks
(rnnkit.train.callbacks: progress, EarlyStopping, CSVLogger, TensorBoard), a JSONL metrics
log, a PNG loss curve, and exact resume. Messages go to the ``rnnkit.train`` logger, never to stdout.

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
import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit import __version__
from rnnkit.errors import invalid
from rnnkit.train import distributed
from rnnkit.train.callbacks import Callback, ProgressLogger
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
logger = logging.getLogger("rnnkit.train")


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
    restore_best: bool = False  # end with best/'s weights (the best task metric) in the model
    seed: int = 0  # seeds weights, data order, dropout and sampling
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (autocast; weights stay fp32)
    progress: bool = True  # a progress bar on a terminal; off: a plain line every log_every steps

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

    name: str  # the task's name in config.json: "lm" or "classify"
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
    def run_sections(self) -> dict[str, Any]: ...  # config.json sections: data, vectorizer, ...


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
    stopped: str = ""  # why training ended: "patience", "callback" (stop_training) or "budget"


class Trainer:
    """Train ``model`` on ``task`` into ``out``; the run config is written as config.json.

    The run config is ``run_config`` (e.g. the "trainer" section) over the sections the parts
    supply: "task", "model" (``model.config``), the task's own (``task.run_sections()``),
    "trainer" (``config``) and "rnnkit_version"; so a checkpoint of any run assembled from
    rnnkit's parts holds what ``rnnkit.load`` needs.

    ``callbacks`` (rnnkit.train.callbacks) are called in order at each hook; ``verbose``
    0 shows nothing, 1 a progress bar on a terminal (plain lines elsewhere), 2 plain lines;
    None takes 1 or 2 from ``config.progress``. Validation lines are logged at every verbosity
    (the logger's handlers decide whether they are shown).
    """

    def __init__(
        self, model: nn.Module, task: Task, config: TrainerConfig, out: str | Path,
        run_config: dict | None = None, callbacks: Sequence[Callback] = (),
        verbose: int | None = None,
    ) -> None:  # fmt: skip
        self.model, self.task, self.config = model, task, config
        model_config = getattr(model, "config", None)
        self.out, self.run_config = Path(out), {
            "task": task.name,
            **({"model": model_config.to_dict()} if hasattr(model_config, "to_dict") else {}),
            **task.run_sections(),
            "trainer": config.to_dict(),
            "rnnkit_version": __version__,
            **(run_config or {}),
        }
        self.dist, self.device = distributed.init_from_env(resolve_device(config.device))
        self.dtype = resolve_precision(config.precision, self.device)
        self.progress = Progress()
        # fp16 needs loss scaling against gradient underflow; a disabled scaler is a no-op.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        self.stop_training = False  # a callback sets it to end training after this step
        verbose = (1 if config.progress else 2) if verbose is None else verbose
        shown = [ProgressLogger(verbose, config.log_every)] if verbose and self.dist.is_main else []
        self.callbacks: list[Callback] = [*shown, *callbacks]

    # ---- public ----
    def fit(self, resume: bool = False) -> Progress:
        """Train until the budget ends or early stopping; returns the final progress."""
        distributed.check_same_out(self.out)
        resuming = check_output_dir(self.out, self.run_config, resume, RESUME_KEYS)
        distributed.barrier()  # every rank has looked at --out before rank 0 writes into it
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(self.run_config, indent=2) + "\n")
        self.model.to(self.device)
        self.train_model = distributed.wrap(self.model, self.device)  # DDP under torchrun
        self.optimizer = self._make_optimizer()
        if resuming:
            self._restore()  # every rank's own generators, saved by rank 0
        else:
            distributed.seed_rank(self.config.seed)
        self.log = MetricLog(self.out / "metrics.jsonl")
        self.stop_training = False
        try:
            self._call("on_train_begin")
            self._loop()
            if self.config.restore_best:  # before on_train_end: an EarlyStopping callback's
                self._load_best()  # own restore_best (another monitor) has the last word
        finally:
            self._call("on_train_end")
            drawn = not self.dist.is_main or plot_curves(
                self.out / "metrics.jsonl", self.out / "loss.png"
            )
            if not drawn:
                logger.info("loss.png not drawn: matplotlib is missing (pip install 'rnnkit[plot]')")
        distributed.barrier()  # rank 0's last checkpoint is complete before any rank reads it
        return self.progress

    def _load_best(self) -> None:
        """Put the weights of best/ (the best ``task.metric``) back into the model."""
        distributed.barrier()  # rank 0 has finished writing best/ before any rank reads it
        if (self.out / "best").is_dir():
            best = load_checkpoint(self.out / "best", map_location=self.device)
            self.model.load_state_dict(best.state_dict)

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

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
        running, started = RunningMean(), time.monotonic() - p.elapsed
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
                    logs = {"epoch": p.epoch, "loss": loss, "lr": lr, "count": count}
                    self._call("on_step_end", p.step, logs)
                    if p.step % cfg.log_every == 0 and self.dist.is_main:
                        record = {"step": p.step, "epoch": p.epoch, "train_loss": running.mean}
                        self.log.append(record | {"lr": lr})
                        running.reset()
                    stop = self._budget_spent() or self.stop_training
                    if (cfg.eval_every and p.step % cfg.eval_every == 0) or stop:
                        stop = self._validate() or stop
                    if stop:
                        break
                else:
                    p.epoch, p.batch = p.epoch + 1, 0
                    if not cfg.eval_every or self._budget_spent():
                        stop = self._validate() or self._budget_spent()
            patience_spent = bool(cfg.patience) and p.bad_evals >= cfg.patience
            p.stopped = (
                "patience" if patience_spent else "callback" if self.stop_training else "budget"
            )
        except KeyboardInterrupt:
            logger.warning(
                "interrupted at step %d; %s holds the last complete checkpoint: continue with --resume",
                p.step, self.out / "last",
            )  # fmt: skip
            raise

    def _train_step(self, batch: Any) -> tuple[float, int]:
        self.model.train()
        with autocast(self.device, self.dtype):
            loss, count = self.task.train_step(self.train_model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss * distributed.loss_share(count)).backward()
        if self.config.clip_norm:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        self.scaler.step(self.optimizer)  # skipped when fp16 gradients overflowed
        self.scaler.update()
        return loss.item(), count

    def _budget_spent(self) -> bool:
        p, total = self.progress, self.planned_steps()
        out_of_time = self.config.minutes is not None and p.elapsed >= self.config.minutes * 60
        if self.config.minutes is not None:
            out_of_time = distributed.any_rank(out_of_time)  # every rank stops at the same step
        return out_of_time or (total is not None and p.step >= total)

    def _validate(self) -> bool:
        """Evaluate, log, save best/ and last/; return True when early stopping triggers."""
        p = self.progress
        if p.last_eval_step == p.step:
            return False
        self.model.eval()
        with torch.no_grad(), autocast(self.device, self.dtype):
            metrics = self.task.evaluate(self.model)
        p.last_eval_step = p.step
        if self.dist.is_main:
            self.log.append(
                {"step": p.step, "epoch": p.epoch, "elapsed": round(p.elapsed, 2), **metrics}
            )
        value = metrics[self.task.metric]
        improved = p.best is None or (value > p.best if self.task.maximize else value < p.best)
        p.best, p.bad_evals = (value, 0) if improved else (p.best, p.bad_evals + 1)
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        trainer_state = self._trainer_state()  # a collective under torchrun: every rank calls it
        if self.dist.is_main:  # metrics are all-reduced: every rank took the same decisions
            logger.info(
                "step %6d  epoch %d  val  %s%s",
                p.step, p.epoch, shown, "  (best)" if improved else "",
            )  # fmt: skip
            weights = self.model.state_dict()
            if improved:
                save_checkpoint(self.out / "best", weights, self.run_config, self.task.vocab())
            save_checkpoint(
                self.out / "last", weights, self.run_config, self.task.vocab(), trainer_state
            )
        self._call("on_eval_end", p.step, metrics)
        patience_spent = bool(self.config.patience) and p.bad_evals >= self.config.patience
        return patience_spent or self.stop_training

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
        state = {
            "progress": asdict(self.progress),
            "optimizer": self.optimizer.state_dict(),
            "rng": capture_rng_state(),
            "task": self.task.state_dict(),
            "scaler": self.scaler.state_dict(),  # {} unless fp16
        }
        if self.dist.active:  # each rank's generators and task state (its streams' hidden state)
            state["ranks"] = distributed.all_gather({"rng": state["rng"], "task": state["task"]})
        return state

    def _restore(self) -> None:
        ckpt = load_checkpoint(self.out / "last", map_location=self.device)
        self.model.load_state_dict(ckpt.state_dict)
        state = ckpt.trainer_state or {}
        self.optimizer.load_state_dict(state["optimizer"])
        self.progress = Progress(**state["progress"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        own = state
        if self.dist.active or "ranks" in state:
            own = distributed.pick_rank_state(state.get("ranks", [state]), "every process's state")
        self.task.load_state_dict(own["task"])
        restore_rng_state(own["rng"])
        if self.dist.is_main:
            logger.info(
                "resuming %s at step %d (epoch %d)", self.out, self.progress.step, self.progress.epoch
            )
