"""Helpers shared by the command modules: flags that map 1:1 to config dataclass fields."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from rnnkit.nn import LAYERS
from rnnkit.train.checkpoint import manifest_sha256
from rnnkit.train.device import DEVICES, PRECISIONS
from rnnkit.train.trainer import OPTIMIZERS, SCHEDULES, TrainerConfig

Group = argparse.ArgumentParser | argparse._ArgumentGroup  # where flags are added


def default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` (the one source of CLI defaults)."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return field.default


def flag(group: Group, name: str, help: str, default: Any = None, **kwargs: Any) -> None:
    """``group.add_argument(name, ...)`` whose help ends with the default, "(default X)"."""
    group.add_argument(name, default=default, help=f"{help} (default %(default)s)", **kwargs)


def field_flag(group: Group, name: str, cls: type, field: str, help: str, **kwargs: Any) -> None:
    """A flag for dataclass field ``cls.field``, with that field's default (flags map 1:1)."""
    flag(group, name, help, default(cls, field), **kwargs)


def add_recurrent_flags(group: Group, config: type, hidden_help: str) -> None:
    """--cell, --layers, --hidden for a model config with cell, num_layers, hidden_size."""
    field_flag(group, "--cell", config, "cell", "recurrent cell", choices=list(LAYERS))
    field_flag(group, "--layers", config, "num_layers", "stacked recurrent layers", type=int)
    field_flag(group, "--hidden", config, "hidden_size", hidden_help, type=int)


def add_trainer_flags(
    parser: argparse.ArgumentParser, budget_default: dict[str, Any], **defaults: Any
) -> None:
    """Flags for TrainerConfig; ``defaults`` override the dataclass defaults for one task.

    ``budget_default`` (e.g. ``{"minutes": 10}``) applies when none of --epochs, --steps,
    --minutes is given; it is stored on the parser for :func:`trainer_config`.
    """
    parser.set_defaults(budget_default=budget_default)

    def when_none(name: str) -> str:
        shown = budget_default.get(name)
        return "" if shown is None else f" (default {shown} when no budget is given)"

    group = parser.add_argument_group("training")
    budget = group.add_mutually_exclusive_group()
    budget.add_argument(
        "--epochs", type=int, help=f"train for N passes over the data{when_none('epochs')}"
    )
    budget.add_argument(
        "--steps", type=int, help=f"train for N optimizer steps{when_none('steps')}"
    )
    budget.add_argument(
        "--minutes", type=float, help=f"train for M wall-clock minutes{when_none('minutes')}"
    )
    for name, help, kwargs in (
        ("lr", "peak learning rate", {"type": float}),
        ("optimizer", "optimizer", {"choices": OPTIMIZERS}),
        ("weight_decay", "AdamW weight decay", {"type": float}),
        ("clip_norm", "max global gradient norm, 0 = off", {"type": float}),
        ("schedule", "learning-rate schedule after warm-up", {"choices": SCHEDULES}),
        ("warmup_steps", "linear warm-up steps", {"type": int}),
        ("eval_every", "steps between validation + checkpoint, 0 = each epoch", {"type": int}),
        ("patience", "stop after N validations without improvement, 0 = never", {"type": int}),
        ("seed", "random seed: same seed, same run", {"type": int}),
        ("device", f"{' | '.join(DEVICES)} | cuda:N", {}),
        ("precision", "autocast precision", {"choices": PRECISIONS}),
    ):  # fmt: skip
        value = defaults.get(name, default(TrainerConfig, name))
        flag(group, "--" + name.replace("_", "-"), help, value, **kwargs)
    group.add_argument(
        "--no-progress", action="store_true", help="no progress bar (logs still printed)"
    )
    flag(group, "--out", "run directory for checkpoints and logs", defaults["out"])
    group.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )


def trainer_config(args: argparse.Namespace) -> TrainerConfig:
    """TrainerConfig from the parsed flags of :func:`add_trainer_flags`."""
    budget = {"epochs": args.epochs, "steps": args.steps, "minutes": args.minutes}
    if all(value is None for value in budget.values()):
        budget |= args.budget_default
    return TrainerConfig(
        optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
        clip_norm=args.clip_norm, schedule=args.schedule, warmup_steps=args.warmup_steps,
        **budget, eval_every=args.eval_every,
        patience=args.patience, seed=args.seed, device=args.device, precision=args.precision,
        progress=not args.no_progress,
    )  # fmt: skip


def add_expect_sha256(parser: argparse.ArgumentParser) -> None:
    """--expect-sha256 HEX: the pinned manifest hash a loaded checkpoint must have."""
    parser.add_argument(
        "--expect-sha256",
        metavar="HEX",
        help="refuse the checkpoint unless its manifest.json has this SHA-256, as printed at "
        "save and written to manifest.sha256 (default: no pin)",
    )


def pin_line(out: str) -> str:
    """The line that tells how to pin ``out/best`` (its manifest's SHA-256)."""
    digest = manifest_sha256(Path(out) / "best")
    return f"best/ manifest sha256 {digest} (also in best/manifest.sha256; pin with --expect-sha256)"
