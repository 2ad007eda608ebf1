"""Callbacks of the shared Trainer, as in Keras: hooks called at fixed points of training.

The Trainer calls, in this order::

    on_train_begin(trainer)
    on_step_end(trainer, step, logs)       after every optimizer step; logs = {"epoch", "loss" (this
                                           step's), "lr", "count" (tokens or texts in the batch)}
    on_eval_end(trainer, step, metrics)    after every validation (and checkpoint); metrics =
                                           the task's {"val_loss", "val_accuracy", ...}
    on_train_end(trainer)                  always, also after early stopping or Ctrl-C

A callback may set ``trainer.stop_training = True`` to end training after the current step.
Built in: :class:`EarlyStopping`, :class:`CSVLogger`, :class:`TensorBoard` and the
:class:`ProgressLogger` the Trainer adds itself (``verbose``).
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from rnnkit.errors import InvalidArgumentError, invalid
from rnnkit.validation import (
    check_choice,
    check_float,
    check_int,
    check_output_file,
    check_output_path,
)

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer

logger = logging.getLogger("rnnkit.train")
MODES = ("auto", "min", "max")


class Callback:
    """Base class: override the hooks you need (each does nothing by default)."""

    def on_train_begin(self, trainer: Trainer) -> None:
        pass

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        pass

    def on_eval_end(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        pass

    def on_train_end(self, trainer: Trainer) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` evals.

    Args:
        monitor: a validation metric, e.g. "val_loss", "val_accuracy", "val_macro_f1".
        mode: "min", "max", or "auto" (max for accuracy/F1 metrics, else min).
        patience: validations without improvement tolerated before stopping (0 = stop at the
            first validation that does not improve).
        min_delta: the smallest change that counts as an improvement.
        restore_best: at the end of training, put back the weights of the best validation
            (kept in memory; with ``ema_epochs``, the moving average that was validated).
            For the task's own metric this is not needed: the trainer's
            ``TrainerConfig.patience`` / ``restore_best`` (on for classifiers) stop and reload
            ``best/`` from disk. This hook runs after that reload, so the callback's monitor
            has the last word.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 0,
        min_delta: float = 0.0,
        restore_best: bool = False,
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise invalid("monitor", monitor, "a metric name such as 'val_loss'")
        check_choice("mode", mode, MODES)
        patience = check_int("patience", patience, 0)
        min_delta = check_float("min_delta", min_delta, 0)
        if not isinstance(restore_best, bool):
            raise invalid("restore_best", restore_best, "True or False")
        if mode == "auto":
            mode = "max" if any(k in monitor for k in ("acc", "f1")) else "min"
        self.monitor, self.mode, self.patience = monitor, mode, patience
        self.min_delta, self.restore_best = min_delta, restore_best
        self.best: float | None = None
        self.best_step: int | None = None
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.stopped_step: int | None = None
        self.wait = 0

    def on_train_begin(self, trainer: Trainer) -> None:
        self.best, self.best_step, self.best_weights, self.stopped_step = None, None, None, None
        self.wait = 0

    def on_eval_end(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        if self.monitor not in metrics:
            raise invalid("monitor", self.monitor, f"one of the metrics {sorted(metrics)}")
        value = metrics[self.monitor]
        sign = 1 if self.mode == "max" else -1
        if self.best is None or sign * (value - self.best) > self.min_delta:
            self.best, self.best_step, self.wait = value, step, 0
            if self.restore_best:
                self.best_weights = {
                    k: v.detach().to("cpu", copy=True)
                    for k, v in trainer.evaluated_model.state_dict().items()
                }
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_step = step
            trainer.stop_training = True
            logger.info(
                "early stopping at step %d: %s has not improved on %.4f (step %d) for %d evaluations",
                step, self.monitor, self.best, self.best_step, self.wait,
            )  # fmt: skip

    def on_train_end(self, trainer: Trainer) -> None:
        if self.restore_best and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)
            logger.info("restored the weights of step %d (%s %.4f)", self.best_step, self.monitor, self.best)


class CSVLogger(Callback):
    """One CSV row per validation: step, epoch, mean training loss since the last one, metrics.

    ``append=True`` adds to an existing file (a resumed run) instead of replacing it.
    """

    def __init__(self, path: str | Path, append: bool = False) -> None:
        self.path = check_output_file("path", path, "a CSV file to write")
        if not isinstance(append, bool):
            raise invalid("append", append, "True or False")
        self.append = append
        self._losses: list[float] = []
        self._fields: list[str] | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.append:
            self.path.write_text("")
        self._fields = None

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        self._losses.append(logs["loss"])

    def on_eval_end(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        loss = sum(self._losses) / len(self._losses) if self._losses else float("nan")
        row = {"step": step, "epoch": trainer.progress.epoch, "train_loss": loss, **metrics}
        self._losses = []
        new = self._fields is None and self.path.stat().st_size == 0
        self._fields = self._fields or list(row)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)


class TensorBoard(Callback):
    """Scalars for TensorBoard in ``log_dir``: train_loss and lr per step, each val metric.

    Needs the ``tensorboard`` package (``pip install 'rnnkit[tensorboard]'``); view with
    ``tensorboard --logdir LOG_DIR``.
    """

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = check_output_path("log_dir", log_dir, "a directory for TensorBoard events")
        self.writer: Any = None

    def on_train_begin(self, trainer: Trainer) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise InvalidArgumentError(
                f"log_dir={str(self.log_dir)!r}: TensorBoard logging needs the tensorboard "
                "package; expected it installed (pip install 'rnnkit[tensorboard]')"
            ) from None
        self.writer = SummaryWriter(str(self.log_dir))

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        self.writer.add_scalar("train_loss", logs["loss"], step)
        self.writer.add_scalar("lr", logs["lr"], step)

    def on_eval_end(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()


class ProgressLogger(Callback):
    """Training progress on stderr: a tqdm bar on a terminal, else a plain line every N steps.

    ``verbose=1``: the bar when stderr is a terminal, plain lines when it is not (a log file,
    CI, a notebook without widgets: no carriage-return fragments); ``verbose=2``: plain lines
    always. Plain lines go to the ``rnnkit.train`` logger every ``every`` steps.
    """

    def __init__(self, verbose: int = 1, every: int = 50) -> None:
        self.bar_wanted = verbose == 1 and sys.stderr.isatty()
        self.every = max(1, every)
        self.bar: tqdm | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        self.start, self.counted, self.total = time.monotonic(), 0, trainer.planned_steps()
        if self.bar_wanted:
            self.bar = tqdm(total=self.total, initial=trainer.progress.step, unit="step",
                            dynamic_ncols=True, file=sys.stderr)  # fmt: skip

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        self.counted += logs.get("count", 0)
        rate = self.counted / max(time.monotonic() - self.start, 1e-9)
        fields = {"loss": f"{logs['loss']:.3f}", f"{trainer.task.unit}/s": f"{rate:.0f}"}
        cfg = trainer.config
        if self.total is None and cfg.minutes:
            left = max(0.0, cfg.minutes * 60 - trainer.progress.elapsed)
            fields["eta"] = f"{int(left // 60)}:{int(left % 60):02d}"
        if self.bar is not None:
            self.bar.update()
            self.bar.set_postfix(fields)
        elif step % self.every == 0:
            of = f"/{self.total}" if self.total else ""
            logger.info("step %d%s  %s", step, of, "  ".join(f"{k} {v}" for k, v in fields.items()))

    def on_train_end(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
