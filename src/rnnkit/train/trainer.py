"""The one training loop, shared by language models and classifiers.

A :class:`Task` supplies batches, the loss of one batch and the validation metrics; the
:class:`Trainer` does the rest: AdamW/Adam, warm-up + cosine schedule, gradient-norm clipping,
a budget in epochs, steps or minutes, validation every ``eval_every`` steps (or each epoch),
the best checkpoint by the task's metric, early stopping (``patience``; ``restore_best`` ends
with best/'s weights in the model), a moving average of the weights that is what gets
validated and saved (``ema_epochs``), parameter groups with their own ``lr_scale``, callbacks
(rnnkit.train.callbacks: progress, EarlyStopping, CSVLogger, TensorBoard), a JSONL metrics
log, a PNG loss curve, and exact resume. Messages go to the ``rnnkit.train`` logger, never to stdout.

Run directory::

    <out>/config.json      the resolved run config (model, vectorizer, data, trainer)
          metrics.jsonl    one JSON record per line: train_loss every log_every steps, and
                           the task's val_* metrics at each validation
          loss.png         training and validation loss against steps
          best/            checkpoint with the best validation metric (what generate/predict use)
          last/            checkpoint + trainer_state.pt, written at each validation (resume)

With ``ema_epochs`` both checkpoints hold the averaged weights, the ones validated; last/'s
trainer_state.pt keeps the weights as trained too, which a resumed run continues from.

Resuming restores weights, optimizer, schedule position, RNG states, data position and the
task's own state (a language model's carried hidden state), so an interrupted run continues
exactly where its last checkpoint stood. Killed at any moment (Ctrl-C, SIGKILL), even before
its first checkpoint or inside a save, a run continues with ``resume=True`` to bit-identical
weights (step/epoch budget); ``metrics.jsonl`` is cut back to the checkpoint's step. The rules
for what may change on resume are RESUME_KEYS below and docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit import __version__
from rnnkit.config import check_types
from rnnkit.errors import RnnkitError, invalid
from rnnkit.logs import release_records
from rnnkit.train import distributed
from rnnkit.train.callbacks import Callback, ProgressLogger
from rnnkit.train.checkpoint import (
    MODEL_KEYS,
    capture_rng_state,
    check_savable,
    check_state_shapes,
    checkpoint_content,
    is_checkpoint,
    load_checkpoint,
    nonfinite_tensor,
    read_json,
    restore_rng_state,
    save_checkpoint,
)
from rnnkit.train.device import (
    PRECISION_NAMES,
    PRECISIONS,
    autocast,
    resolve_device,
    resolve_precision,
)
from rnnkit.train.metrics import MetricLog, RunningMean, plot_curves
from rnnkit.train.run_dir import check_output_dir, exclusive, recover_interrupted_saves
from rnnkit.validation import check_choice, check_float, check_int, check_seed

logger = logging.getLogger("rnnkit.train")
OPTIMIZERS = ("adamw", "adam")
MAX_LR = 10.0  # Adam/AdamW diverge long before this; larger is a typo
MAX_STEPS = 10**9  # steps, epochs, warm-up, eval_every, patience
MAX_MINUTES = 10**6  # about two years
# what a resumed run must keep: the model, its vocabulary and labels, the data, and every
# setting that shapes the optimisation; the budget, eval_every, log_every, patience, device,
# precision and progress may change (logged, and recorded under "resumed" in config.json)
FIXED_TRAINER_KEYS = ("optimizer", "lr", "weight_decay", "clip_norm", "schedule", "warmup_steps",
                      "min_lr_ratio", "ema_epochs", "seed")  # fmt: skip
MAX_EMA_EPOCHS = 1000.0
RESUME_KEYS = (*MODEL_KEYS, "labels", "data", *(f"trainer.{k}" for k in FIXED_TRAINER_KEYS))


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python's random: same seed, same run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


SCHEDULES = ("cosine", "constant", "plateau")


@dataclass
class TrainerConfig:
    """Optimisation, budget and bookkeeping settings (CLI flags map 1:1 to these fields)."""

    optimizer: str = "adamw"  # adamw | adam
    lr: float = 2e-3  # peak learning rate
    weight_decay: float = 0.0  # decoupled weight decay (AdamW)
    clip_norm: float = 5.0  # max global gradient norm; 0 turns clipping off
    schedule: str = "cosine"  # cosine (to min_lr_ratio * lr) | constant | plateau (halved at each validation without improvement, to min_lr_ratio * lr), after warm-up
    warmup_steps: int = 50  # linear warm-up from lr / warmup_steps, at most one epoch long
    min_lr_ratio: float = 0.1  # where the cosine schedule ends, as a fraction of lr
    epochs: int | None = None  # budget: passes over the training data
    steps: int | None = None  # budget: optimizer steps
    minutes: float | None = None  # budget: wall-clock minutes (whichever budget ends first)
    eval_every: int = 0  # steps between validation + checkpoint; 0 = at each epoch's end
    log_every: int = 50  # steps between training-loss records in metrics.jsonl
    patience: int = 0  # stop after this many validations without improvement; 0 = never
    min_steps: int = 0  # patience may stop training only after this many optimizer steps
    restore_best: bool = False  # end with best/'s weights (the best task metric) in the model
    ema_epochs: float = 0.0  # validate and save an exponential moving average of the weights (Polyak averaging) with this time constant in epochs (momentum 1 - 1 / (ema_epochs * batches per epoch)); the model ends with it; 0 = the weights as trained
    seed: int = 0  # seeds weights, data order, dropout and sampling
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (autocast; weights stay fp32)
    progress: bool = True  # a progress bar on a terminal; off: a plain line every log_every steps

    def __post_init__(self) -> None:
        check_types(self)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("precision", self.precision, PRECISIONS)
        check_float("lr", self.lr, 0, MAX_LR, lo_open=True)
        check_float("weight_decay", self.weight_decay, 0)
        if self.weight_decay * self.lr >= 1:  # AdamW scales the weights by 1 - lr * wd a step
            raise invalid("weight_decay", self.weight_decay, f"less than 1 / lr = {1 / self.lr:g}"
                          " (each step would flip the weights' sign)")  # fmt: skip
        check_float("clip_norm", self.clip_norm, 0)
        check_float("min_lr_ratio", self.min_lr_ratio, 0, 1)
        check_float("ema_epochs", self.ema_epochs, 0, MAX_EMA_EPOCHS)
        for name in ("epochs", "steps"):
            check_int(name, getattr(self, name), 1, MAX_STEPS, optional=True)
        check_float("minutes", self.minutes, 0, MAX_MINUTES, lo_open=True, optional=True)
        for name, lo in (("warmup_steps", 0), ("eval_every", 0), ("log_every", 1), ("patience", 0),
                         ("min_steps", 0)):  # fmt: skip
            check_int(name, getattr(self, name), lo, MAX_STEPS)
        check_seed("seed", self.seed)
        if not isinstance(self.device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise invalid("device", self.device, "auto, cpu, cuda or cuda:N")
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
    lr_drops: int = 0  # validations without improvement so far (the plateau schedule's halvings)
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
        self.dtype = torch.float32  # what --precision becomes: decided in fit (_resolve_precision)
        self.progress = Progress()
        self.stop_training = False  # a callback sets it to end training after this step
        verbose = (1 if config.progress else 2) if verbose is None else verbose
        shown = [ProgressLogger(verbose, config.log_every)] if verbose and self.dist.is_main else []
        self.callbacks: list[Callback] = [*shown, *callbacks]

    def _resolve_precision(self) -> None:
        """``self.dtype`` from ``--precision``, recorded in the run's config, and the loss
        scaler fp16 needs (against gradient underflow; disabled, it is a no-op)."""
        self.dtype = resolve_precision(self.config.precision, self.device, self._precision_probe())
        # what "auto" became on this machine: recorded beside the settings, never compared
        self.run_config["resolved"] = {
            "device": str(self.device), "precision": PRECISION_NAMES[self.dtype],
        }  # fmt: skip
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)

    def _precision_probe(self) -> tuple[str, Callable[[bool], None]] | None:
        """The run's own training step for ``--precision auto`` to time on the CPU: forward
        and backward of the model on the first batch, under bf16 autocast or not, leaving the
        random state, the gradients and the task's carried state as they were. Keyed by the
        task and the model's settings. None (a generic measurement decides) on a GPU, under
        torchrun (every process must choose alike), or for a model without settings.

        A decision from one fixed model was wrong for others: under a 2x256 LSTM language
        model's answer (bf16), a SimpleRNN 2x64 classifier trained 14% slower than in fp32.
        """
        model_settings = self.run_config.get("model")
        cpu_auto = self.config.precision == "auto" and self.device.type == "cpu"
        if not cpu_auto or self.dist.active or not model_settings:
            return None
        batch = next(iter(self.task.train_batches(0, 0)), None)
        if batch is None:
            return None
        carried = self.task.state_dict()

        def step(bf16: bool) -> None:
            self.model.train()
            with torch.random.fork_rng(devices=[]):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss, _ = self.task.train_step(self.model, batch)
                loss.backward()
            self.model.zero_grad(set_to_none=True)
            self.task.load_state_dict(carried)

        settings = json.dumps({"task": self.task.name, "model": model_settings}, sort_keys=True)
        return f"{self.task.name}:{hashlib.sha256(settings.encode()).hexdigest()[:16]}", step

    # ---- public ----
    def fit(self, resume: bool = False) -> Progress:
        """Train until the budget ends or early stopping; returns the final progress.

        With ``resume`` an existing run in ``out`` continues from ``last/`` (or starts afresh
        when it never saved one); settings in RESUME_KEYS must be unchanged, the others (the
        budget, eval_every, patience, device, ...) may change: logged and recorded in
        config.json under "resumed".
        """
        check_savable(self.run_config, self.task.vocab())  # fail now, not at the first save
        distributed.check_same_out(self.out)
        with exclusive(self.out) if self.dist.is_main else contextlib.nullcontext():
            return self._fit(resume)

    def _fit(self, resume: bool) -> Progress:
        """:meth:`fit` with the run directory held by this run."""
        if resume and self.dist.is_main and self.out.is_dir():
            recover_interrupted_saves(self.out)
        distributed.barrier()  # rank 0 has put back interrupted saves before any rank looks
        resuming = check_output_dir(self.out, self.run_config, resume, RESUME_KEYS)
        if resume and not resuming and self.dist.is_main and is_checkpoint(self.out / "best"):
            logger.warning(
                "--resume %s: no last/ checkpoint to continue from (best/ is there): training "
                "starts afresh and replaces best/ at its first validation", self.out,
            )  # fmt: skip
        release_records()  # the run starts: what the inputs' reading logged is shown now
        distributed.barrier()  # every rank has looked at --out before rank 0 writes into it
        self._resolve_precision()  # after the checks: "auto" may time a training step
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.model.to(self.device)
        self.train_model = distributed.wrap(self.model, self.device)  # DDP under torchrun
        self.average = self._make_average()
        self.optimizer = self._make_optimizer()
        if resuming:
            self._restore()  # every rank's own generators, saved by rank 0
        else:
            distributed.seed_rank(self.config.seed)
        self.log = MetricLog(self.out / "metrics.jsonl")
        if self.dist.is_main:
            if resume:
                self._record_resume()
            config = self.out / "config.json"  # replaced whole: a kill never leaves half of it
            temp = config.with_name(".config.json.tmp")
            temp.write_text(json.dumps(self.run_config, indent=2) + "\n")
            temp.replace(config)
            logger.info("training on %s in %s (precision %s)", self.device,
                        self.run_config["resolved"]["precision"], self.config.precision)  # fmt: skip
        self.stop_training = False
        try:
            self._call("on_train_begin")
            self._loop()
            if self.config.restore_best:  # before on_train_end: an EarlyStopping callback's
                self._load_best()  # own restore_best (another monitor) has the last word
            elif self.average is not None:  # end with the weights last validated and saved
                self.model.load_state_dict(self.average.module.state_dict())
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
        """Warm-up then cosine, constant or plateau learning rate for the next step.

        The warm-up lasts ``warmup_steps``, or one epoch when an epoch is shorter: on a few
        hundred texts (5 batches an epoch) 100 steps of warm-up outlasted early stopping."""
        cfg = self.config
        warmup = min(cfg.warmup_steps, self.task.batches_per_epoch())
        warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
        if cfg.schedule == "constant":
            return cfg.lr * warm
        if cfg.schedule == "plateau":  # as Keras' ReduceLROnPlateau(factor=0.5, patience=1)
            return cfg.lr * warm * max(cfg.min_lr_ratio, 0.5**self.progress.lr_drops)
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
                    if not math.isfinite(loss) and not self.scaler.is_enabled() and not self.dist.active:
                        raise self._diverged(f"the training loss is {loss}")  # fp16 skips such steps
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
            p.stopped = (
                "patience" if self._patience_spent()
                else "callback" if self.stop_training else "budget"
            )  # fmt: skip
        except KeyboardInterrupt:
            if is_checkpoint(self.out / "last"):
                step = load_checkpoint(self.out / "last", verify=False).trainer_state or {}
                saved = step.get("progress", {}).get("step", "?")
                where = f"{self.out / 'last'} holds the checkpoint of step {saved}"
            else:
                where = "no checkpoint saved yet (--resume starts the run afresh)"
            logger.warning("interrupted at step %d; %s: continue with --resume", p.step, where)
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
        if self.average is not None:
            self.average.update_parameters(self.model)
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
        evaluated = self.evaluated_model
        evaluated.eval()
        with torch.no_grad(), autocast(self.device, self.dtype):
            metrics = self.task.evaluate(evaluated)
        bad = nonfinite_tensor(evaluated.state_dict())  # identical on every rank: all raise
        if bad is not None:
            raise self._diverged(f"weight {bad} holds NaN or inf")
        p.last_eval_step = p.step
        if self.dist.is_main:
            self.log.append(
                {"step": p.step, "epoch": p.epoch, "elapsed": round(p.elapsed, 2), **metrics}
            )
        value = metrics[self.task.metric]
        improved = p.best is None or (value > p.best if self.task.maximize else value < p.best)
        p.best, p.bad_evals = (value, 0) if improved else (p.best, p.bad_evals + 1)
        p.lr_drops += not improved
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        trainer_state = self._trainer_state()  # a collective under torchrun: every rank calls it
        if self.dist.is_main:  # metrics are all-reduced: every rank took the same decisions
            logger.info(
                "step %6d  epoch %d  val  %s%s",
                p.step, p.epoch, shown, "  (best)" if improved else "",
            )  # fmt: skip
            weights = evaluated.state_dict()
            if improved:
                save_checkpoint(self.out / "best", weights, self.run_config, self.task.vocab())
            save_checkpoint(
                self.out / "last", weights, self.run_config, self.task.vocab(), trainer_state
            )
        self._call("on_eval_end", p.step, metrics)
        return self._patience_spent() or self.stop_training

    def _diverged(self, what: str) -> RnnkitError:
        """The error that ends a run whose weights went (or are about to go) non-finite,
        before they are saved: load_checkpoint would refuse them."""
        cfg = self.config
        return RnnkitError(
            f"training diverged at step {self.progress.step}: {what}; expected finite values: "
            f"try a lower lr (it is {cfg.lr:g}) or clip_norm ({cfg.clip_norm:g}); the "
            f"checkpoints saved before in {self.out} are kept"
        )

    def _patience_spent(self) -> bool:
        """``patience`` validations without improvement, after at least ``min_steps`` steps."""
        p, cfg = self.progress, self.config
        return bool(cfg.patience) and p.bad_evals >= cfg.patience and p.step >= cfg.min_steps

    # ---- state ----
    @property
    def evaluated_model(self) -> nn.Module:
        """The weights that are validated and saved: the moving average with ``ema_epochs``
        (a copy of the model's module tree), else the model itself."""
        return self.model if self.average is None else self.average.module

    def _make_average(self) -> torch.optim.swa_utils.AveragedModel | None:
        """The exponential moving average of the model's parameters, or None (ema_epochs 0).

        Its first update copies the weights; each later one moves it 1 - momentum of the way
        to them, so a step's weight in it decays by e after ema_epochs epochs."""
        if not self.config.ema_epochs:
            return None
        steps = self.config.ema_epochs * self.task.batches_per_epoch()
        momentum = 1.0 - 1.0 / max(1.0, steps)  # under one step: the weights as trained
        return torch.optim.swa_utils.AveragedModel(
            self.model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(momentum)
        )

    def _make_optimizer(self) -> torch.optim.Optimizer:
        """One parameter group, or the model's own ``param_groups()`` (each with an
        ``lr_scale``, the fraction of the scheduled learning rate it gets).

        The fused implementation (one kernel for all parameters) on the CPU and CUDA: on a
        classifier's 50,000 x 50 embedding and LSTM 128 the default loop took about 6x its
        time per step."""
        cls = torch.optim.AdamW if self.config.optimizer == "adamw" else torch.optim.Adam
        groups = getattr(self.model, "param_groups", None)
        if groups is None:
            groups = [{"params": [q for q in self.model.parameters() if q.requires_grad]}]
        else:
            groups = groups()
        fused = self.device.type in ("cpu", "cuda")
        return cls(groups, lr=self.config.lr, weight_decay=self.config.weight_decay, fused=fused)

    def _trainer_state(self) -> dict[str, Any]:
        state = {
            "progress": asdict(self.progress),
            "optimizer": self.optimizer.state_dict(),
            "rng": capture_rng_state(),
            "task": self.task.state_dict(),
            "scaler": self.scaler.state_dict(),  # {} unless fp16
        }
        if self.average is not None:  # the checkpoint's weights are the average's
            state["trained_weights"] = self.model.state_dict()
            state["average_updates"] = int(self.average.n_averaged)
        if self.dist.active:  # each rank's generators and task state (its streams' hidden state)
            state["ranks"] = distributed.all_gather({"rng": state["rng"], "task": state["task"]})
        return state

    def _restore(self) -> None:
        ckpt = load_checkpoint(self.out / "last", map_location=self.device)
        state = ckpt.trainer_state or {}
        own = state  # this process's generators and task state (per rank under torchrun)
        if self.dist.active or "ranks" in state:
            own = distributed.pick_rank_state(state.get("ranks", [state]), "every process's state")
        with checkpoint_content(ckpt.path):
            check_state_shapes(ckpt, self.model.state_dict())
            if self.average is None:
                self.model.load_state_dict(ckpt.state_dict)
            else:
                self._restore_average(ckpt.state_dict, state)
            self.optimizer.load_state_dict(state["optimizer"])
            for param, moments in self.optimizer.state.items():
                for name, value in moments.items():
                    if name != "step" and value.shape != param.shape:
                        raise ValueError(f"optimizer {name} of shape {tuple(value.shape)}")
            self.progress = Progress(**state["progress"])
            for name in ("step", "epoch", "batch", "bad_evals", "lr_drops", "last_eval_step"):
                check_int(f"progress.{name}", getattr(self.progress, name), -1)
            check_float("progress.elapsed", self.progress.elapsed, 0)
            check_float("progress.best", self.progress.best, optional=True)
            if state.get("scaler"):  # fp16's loss scale (a disabled scaler ignores it)
                check_float("scaler.scale", state["scaler"]["scale"], 0, lo_open=True)
                self.scaler.load_state_dict(state["scaler"])
            self.task.load_state_dict(own["task"])
            restore_rng_state(own["rng"])
        if self.dist.is_main:
            logger.info(
                "resuming %s at step %d (epoch %d)", self.out, self.progress.step, self.progress.epoch
            )

    def _restore_average(self, average: dict[str, Tensor], state: dict[str, Any]) -> None:
        """The average from the checkpoint's weights, the model from the trained ones."""
        if "trained_weights" not in state:  # ema_epochs is fixed on resume, so never expected
            raise ValueError("trainer_state.pt lacks the trained weights of an ema_epochs run")
        check_int("average_updates", state["average_updates"], 0)
        self.model.load_state_dict(state["trained_weights"])
        self.average.module.load_state_dict(average)
        self.average.n_averaged.fill_(state["average_updates"])

    def _record_resume(self) -> None:
        """Drop log records after the checkpoint; log and record the changed free settings."""
        self.log.truncate(self.progress.step)
        stored_file = self.out / "config.json"
        if not stored_file.is_file():
            return
        stored = read_json(stored_file)  # CheckpointError naming it when damaged
        before, now = stored.get("trainer"), self.run_config["trainer"]
        before = before if isinstance(before, dict) else {}
        changed = {k: [before.get(k), v] for k, v in now.items() if k in before and before[k] != v}
        versions = [stored.get("rnnkit_version"), self.run_config.get("rnnkit_version")]
        if versions[0] != versions[1]:  # a newer rnnkit may resume a run: noted, not refused
            changed["rnnkit_version"] = versions
        history = stored.get("resumed")
        history = history if isinstance(history, list) else []
        history.append({"step": self.progress.step, "changed": changed})
        self.run_config["resumed"] = history
        for key, (old, new) in changed.items():
            if key != "progress":
                name = key if key == "rnnkit_version" else f"trainer.{key}"
                logger.warning("resume: %s changed from %r to %r", name, old, new)
