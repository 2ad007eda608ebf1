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
from pathlib import Path
from typing import Any

from rnnkit.config import (
    BUDGET,
    check_sections,
    field_docs,
    from_dict,
    read_config_file,
    with_budget,
)
from rnnkit.errors import InvalidArgumentError, invalid
from rnnkit.train.callbacks import Callback, TensorBoard
from rnnkit.train.checkpoint import manifest_sha256
from rnnkit.validation import check_output_path

Group = argparse.ArgumentParser | argparse._ArgumentGroup  # where flags are added
ALIASES = {  # field -> extra flag names kept from earlier releases (short forms)
    "num_layers": ("--layers",),
    "hidden_size": ("--hidden",),
    "embedding_size": ("--embed",),
    "text_cols": ("--text-col",),
}
# model fields set from the data, never from a flag
DERIVED = ("vocab_size", "num_classes", "source_vocab_size", "target_vocab_size")


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


def add_task_flags(
    parser: argparse.ArgumentParser, owners: Mapping[str, type], out: str, skip_model: Iterable[str] = ()
) -> None:
    """A ``train`` command's flags: one per field of its data, model (but the sizes set from
    the data, and ``skip_model``) and trainer configs, then the run flags."""
    add_config_flags(parser, owners["data"], "data", "data")
    add_config_flags(parser, owners["model"], "model", "model", skip=(*DERIVED, *skip_model))
    add_config_flags(parser, owners["trainer"], "trainer", "training")
    add_run_flags(parser, out)


def done_line(args: argparse.Namespace, progress: Any, metric: str, then: str) -> str:
    """The last lines of a training command: steps, minutes, best metric, what to run next,
    and the SHA-256 that pins the best checkpoint (:func:`pin_line`)."""
    return (
        f"done: {progress.step} steps in {progress.elapsed / 60:.1f} min, best {metric} "
        f"{progress.best:.4f}; model in {args.out}/best; try: {then}\n{pin_line(args.out)}"
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
    dataclass default. The trainer's budget follows :func:`rnnkit.config.with_budget`. A
    section no command has is refused, and an error about a value from the file names it.
    """
    file = read_config_file(args.config) if args.config is not None else {}
    if file.get("task", task) != task:
        raise invalid("config", args.config, f"a {task!r} config; it is for {file['task']!r}")
    check_sections(file, owners, args.config)
    configs: dict[str, Any] = {}
    for section, cls in owners.items():
        base = {k: v for k, v in file.get(section, {}).items() if section != "model" or k not in DERIVED}
        flags = given(args, section)
        try:
            if section == "trainer":
                configs[section] = with_budget(cls, base, flags)
            else:
                configs[section] = from_dict(cls, base | flags, section)
        except InvalidArgumentError as exc:  # a value of the file: name the file and section
            if exc.argument not in base or exc.argument in flags:
                raise
            raise InvalidArgumentError(f"{args.config}: [{section}] {exc}") from None
    return configs


def callbacks(args: argparse.Namespace) -> list[Callback]:
    """The callbacks the run flags ask for (--tensorboard), its directory checked first."""
    if args.tensorboard is None:
        return []
    return [TensorBoard(check_output_path("--tensorboard", args.tensorboard, "a directory for events"))]


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
