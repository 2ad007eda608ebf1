"""Helpers shared by the command modules: flags that map 1:1 to config dataclass fields."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from rnnkit.train.device import DEVICES, PRECISIONS
from rnnkit.train.trainer import TrainerConfig


def default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` (the one source of CLI defaults)."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return field.default


def _if_default(budget_default: dict[str, Any], name: str) -> str:
    return (
        f" (default {budget_default[name]} when no budget is given)"
        if name in budget_default
        else ""
    )


def add_trainer_flags(
    parser: argparse.ArgumentParser, budget_default: dict[str, Any], **defaults: Any
) -> None:
    """Flags for TrainerConfig; ``defaults`` override the dataclass defaults for one task.

    ``budget_default`` (e.g. ``{"minutes": 10}``) applies when none of --epochs, --steps,
    --minutes is given; it is stored on the parser for :func:`trainer_config`.
    """
    parser.set_defaults(budget_default=budget_default)

    def d(name: str) -> Any:
        return defaults.get(name, default(TrainerConfig, name))

    group = parser.add_argument_group("training")
    budget = group.add_mutually_exclusive_group()
    budget.add_argument(
        "--epochs",
        type=int,
        help=f"train for N passes over the data{_if_default(budget_default, 'epochs')}",
    )
    budget.add_argument("--steps", type=int, help="train for N optimizer steps")
    budget.add_argument(
        "--minutes",
        type=float,
        help=f"train for M wall-clock minutes{_if_default(budget_default, 'minutes')}",
    )
    group.add_argument(
        "--lr", type=float, default=d("lr"), help="peak learning rate (default %(default)s)"
    )
    group.add_argument(
        "--optimizer",
        choices=["adamw", "adam"],
        default=d("optimizer"),
        help="optimizer (default %(default)s)",
    )
    group.add_argument(
        "--weight-decay",
        type=float,
        default=d("weight_decay"),
        help="AdamW weight decay (default %(default)s)",
    )
    group.add_argument(
        "--clip-norm",
        type=float,
        default=d("clip_norm"),
        help="max global gradient norm, 0 = off (default %(default)s)",
    )
    group.add_argument(
        "--schedule",
        choices=["cosine", "constant"],
        default=d("schedule"),
        help="learning-rate schedule after warm-up (default %(default)s)",
    )
    group.add_argument(
        "--warmup-steps",
        type=int,
        default=d("warmup_steps"),
        help="linear warm-up steps (default %(default)s)",
    )
    group.add_argument(
        "--eval-every",
        type=int,
        default=d("eval_every"),
        help="steps between validation + checkpoint, 0 = each epoch (default %(default)s)",
    )
    group.add_argument(
        "--patience",
        type=int,
        default=d("patience"),
        help="stop after N validations without improvement, 0 = never (default %(default)s)",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=d("seed"),
        help="random seed: same seed, same run (default %(default)s)",
    )
    group.add_argument(
        "--device",
        default=d("device"),
        help=f"{' | '.join(DEVICES)} | cuda:N (default %(default)s)",
    )
    group.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=d("precision"),
        help="autocast precision (default %(default)s)",
    )
    group.add_argument(
        "--no-progress", action="store_true", help="no progress bar (logs still printed)"
    )
    group.add_argument(
        "--out",
        required="out" not in defaults,
        default=defaults.get("out"),
        help="run directory for checkpoints and logs (default %(default)s)",
    )
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
