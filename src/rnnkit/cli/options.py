"""Flags generated from the config dataclasses, and the configs built back from them.

Every field of a config becomes ``--field-name`` (a few keep a short alias, listed in
``ALIASES``), with the field's inline comment as help and its default shown; the parser's own
default is None, so that only flags given on the command line override ``--config FILE``,
which overrides the dataclass defaults. Booleans take ``--x`` / ``--no-x``; list fields take
several values. The CLI therefore holds no default of its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from rnnkit.config import BUDGET, field_docs, from_dict, read_config_file, with_budget
from rnnkit.errors import invalid
from rnnkit.train.callbacks import Callback, TensorBoard

Group = argparse.ArgumentParser | argparse._ArgumentGroup  # where flags are added
ALIASES = {  # field -> extra flag names kept from earlier releases (short forms)
    "num_layers": ("--layers",),
    "hidden_size": ("--hidden",),
    "embedding_size": ("--embed",),
    "text_cols": ("--text-col",),
}
DERIVED = ("vocab_size", "num_classes")  # model fields set from the data, never from a flag


def flag(group: Group, name: str, help: str, default: Any = None, **kwargs: Any) -> None:
    """``group.add_argument(name, ...)`` whose help ends with the default, "(default X)"."""
    group.add_argument(name, default=default, help=f"{help} (default %(default)s)", **kwargs)


def _argument_kind(annotation: Any) -> dict[str, Any]:
    """argparse keywords for a field of type ``annotation`` (bool, int, float, str, list)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    base = args[0]
    if base is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(base) is list:
        return {"nargs": "+", "metavar": "V"}
    if base in (int, float):
        return {"type": base, "metavar": "N" if base is int else "X"}
    return {"metavar": "S"}


def add_config_flags(
    parser: argparse.ArgumentParser, cls: type, section: str, title: str, skip: Iterable[str] = ()
) -> None:
    """One flag per field of dataclass ``cls`` (but ``skip``), stored as ``section.field``."""
    group = parser.add_argument_group(title)
    budget = group.add_mutually_exclusive_group() if section == "trainer" else None
    docs, hints = field_docs(cls), typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        shown = field.default if field.default is not None else "none"
        help = f"{docs.get(field.name, field.name)} (default {shown})"
        target = budget if budget is not None and field.name in BUDGET else group
        target.add_argument(
            "--" + field.name.replace("_", "-"), *ALIASES.get(field.name, ()),
            dest=f"{section}.{field.name}", default=None, help=help,
            **_argument_kind(hints[field.name]),
        )  # fmt: skip


def add_run_flags(parser: argparse.ArgumentParser, out: str) -> None:
    """--config, --out, --resume, --tensorboard: what a training command needs beside configs."""
    group = parser.add_argument_group("run")
    group.add_argument(
        "--config",
        metavar="FILE",
        help="JSON or TOML file with [model], [data], [trainer] sections, e.g. a run's "
        "config.json; flags given on the command line override it (default: none)",
    )
    flag(group, "--out", "run directory for checkpoints and logs", out)
    group.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    group.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="write TensorBoard scalars (loss, lr, validation metrics) to DIR; needs "
        "pip install 'rnnkit[tensorboard]' (default: none)",
    )


def given(args: argparse.Namespace, section: str) -> dict[str, Any]:
    """The flags of ``section`` given on the command line: ``{field: value}``."""
    prefix = section + "."
    return {
        key[len(prefix) :]: value
        for key, value in vars(args).items()
        if key.startswith(prefix) and value is not None
    }


def build_configs(
    args: argparse.Namespace, task: str, owners: Mapping[str, type]
) -> dict[str, Any]:
    """``{section: config}`` for ``owners`` ({"data": ..., "model": ..., "trainer": ...}).

    Each field takes, in order of precedence: its flag, the ``--config`` file's value, the
    dataclass default. The trainer's budget follows :func:`rnnkit.config.with_budget`.
    """
    file = read_config_file(args.config) if args.config else {}
    if file.get("task", task) != task:
        raise invalid("config", args.config, f"a {task!r} config; it is for {file['task']!r}")
    configs: dict[str, Any] = {}
    for section, cls in owners.items():
        base = {k: v for k, v in file.get(section, {}).items() if section != "model" or k not in DERIVED}
        if section == "trainer":
            configs[section] = with_budget(cls, base, given(args, section))
        else:
            configs[section] = from_dict(cls, base | given(args, section), section)
    return configs


def callbacks(args: argparse.Namespace) -> list[Callback]:
    """The callbacks the run flags ask for (--tensorboard)."""
    return [TensorBoard(args.tensorboard)] if args.tensorboard else []
