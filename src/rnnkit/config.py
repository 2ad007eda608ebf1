"""Typed configs: the one source of every default, built from dicts and files, documented.

Each option of rnnkit lives in exactly one dataclass field, with its default and an inline
comment (``name: type = default  # what it means``). This module turns those dataclasses into
what the rest needs, so that nothing repeats a default:

- :func:`from_dict` builds a config from a dict and refuses a key the dataclass lacks
  (``ValueError`` naming the key and listing the valid ones);
- :func:`check_types`, called first in each config's ``__post_init__``, refuses a value of
  the wrong type (``bidirectional="no"``, ``train=5``) naming the field;
- :func:`field_docs` reads the inline comments (the Python API's docstrings and the CLI's
  help texts are made from them);
- :func:`read_config_file` reads a JSON or TOML file with sections such as ``model``, ``data``
  and ``trainer`` (every run directory's ``config.json`` is such a file), and
  :func:`check_sections` refuses a section no command has (a misspelt ``[modle]``);
- :func:`with_budget` resolves the training budget: naming one of epochs / steps / minutes
  turns the other two off, naming none keeps the task's default budget.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from rnnkit.errors import ArgumentTypeError, DataError, InvalidArgumentError, invalid
from rnnkit.validation import check_input_file, is_integer, is_real, parse_json

C = TypeVar("C")
BUDGET = ("epochs", "steps", "minutes")
# what a run's config.json records beside its option sections; --config FILE ignores them
RUN_RECORDS = ("task", "vectorizer", "labels", "label_values", "rnnkit_version", "resolved",
               "resumed")  # fmt: skip
_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:[^#]*?(?:=[^#]*)?#\s*(.+?)\s*$")


def field_names(cls: type) -> list[str]:
    """The field names of dataclass ``cls``, in order."""
    return [f.name for f in dataclasses.fields(cls)]


def defaults(cls: type) -> dict[str, Any]:
    """``{field: default}`` of dataclass ``cls`` (fields without a default are left out)."""
    return {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """``{field: inline comment}`` of dataclass ``cls`` and its bases (a subclass wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):  # pragma: no cover - source unavailable (frozen app)
            continue
        for line in source.splitlines():
            match = _FIELD_LINE.match(line)
            if match and match.group(1) in klass.__dataclass_fields__:
                docs[match.group(1)] = match.group(2)
    return docs


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    """``{field: annotation}`` of dataclass ``cls``, the annotations resolved."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def check_types(config: Any) -> None:
    """Refuse a field of the dataclass ``config`` whose value is not of its annotated type.

    bool takes True or False only (a JSON ``"no"`` is not False); int any integer
    (``numbers.Integral``: an int, ``np.int64``), not a bool; float any real number
    (``numbers.Real``: also ``np.float32``); str a str or an ``os.PathLike``; ``list[X]`` a
    list or tuple of X; ``X | None`` also None. Paths are stored as their str and numpy
    numbers as Python's, so that config.json holds them. Ranges and choices are the config's
    own checks, which run after this one. Raises ArgumentTypeError (an InvalidArgumentError)
    naming the field, the value and the type.
    """
    for name, kind in _field_types(type(config)).items():
        value = getattr(config, name)
        if not _matches(value, kind):
            raise invalid(name, value, _describe(kind), ArgumentTypeError)
        plain = _plain(value)
        if plain is not value:
            object.__setattr__(config, name, plain)  # frozen dataclasses too


def _plain(value: Any) -> Any:
    """``value`` with a path as its str and a numpy number as a Python int or float (lists
    element by element); ``value`` itself when nothing changes."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if is_real(value) and type(value) not in (int, float):
        return int(value) if is_integer(value) else float(value)
    if isinstance(value, list | tuple):
        items = [_plain(v) for v in value]
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return type(value)(items)
    return value


def _matches(value: Any, kind: Any) -> bool:
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind in (int, float):
        return is_integer(value) if kind is int else is_real(value)
    if kind is str:
        return isinstance(value, str) or (
            isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)
        )
    if typing.get_origin(kind) is list:
        return isinstance(value, list | tuple) and all(_matches(v, args[0]) for v in value)
    return True  # Any, ClassVar, ...: left to the config's own checks


_NAMES = {bool: "True or False", int: "an int", float: "a number", str: "a str"}


def _describe(kind: Any) -> str:
    """``str | int | None`` -> "a str, an int or None"; ``list[str]`` -> "a list of str"."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) is list:
        items = typing.get_args(args[0]) or args
        return "a list of " + " or ".join(getattr(a, "__name__", str(a)) for a in items)
    if typing.get_origin(kind) not in (typing.Union, types.UnionType):
        return _NAMES.get(kind, getattr(kind, "__name__", str(kind)))
    parts = [_describe(a) for a in args if a is not type(None)]
    parts += ["None"] if type(None) in args else []
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} or {parts[-1]}"


def unknown_key(name: str, section: str, valid: list[str]) -> InvalidArgumentError:
    """The error for an option no config has: names it (also as ``argument``, so that a
    config file's error names the file) and lists the valid ones."""
    exc = InvalidArgumentError(
        f"{name}: unknown {section} option; valid options are {', '.join(sorted(valid))}"
    )
    exc.argument = name
    return exc


def from_dict(cls: type[C], values: Mapping[str, Any], section: str | None = None) -> C:
    """``cls(**values)``, refusing unknown keys with a ValueError that lists the valid ones."""
    valid = field_names(cls)
    for name in values:
        if name not in valid:
            raise unknown_key(name, section or cls.__name__, valid)
    return cls(**values)


def split_options(options: Mapping[str, Any], owners: Mapping[str, type]) -> dict[str, dict]:
    """Route flat ``options`` to the config that owns each: ``{section: {field: value}}``.

    ``owners`` maps a section name to its dataclass, in priority order (a field two sections
    share goes to the first). An option no section has is a ValueError listing the valid ones.
    """
    routed: dict[str, dict[str, Any]] = {section: {} for section in owners}
    for name, value in options.items():
        section = next((s for s, cls in owners.items() if name in field_names(cls)), None)
        if section is None:
            valid = sorted({n for cls in owners.values() for n in field_names(cls)})
            raise unknown_key(name, "/".join(owners), valid)
        routed[section][name] = value
    return routed


def with_budget(cls: type[C], *layers: Mapping[str, Any]) -> C:
    """``cls`` from ``layers`` of options, each overriding the ones before it.

    A layer that names one of epochs / steps / minutes (not None) sets the budget alone: the
    other two become None unless it names them too. Naming none keeps the budget below it
    and, at the bottom, the dataclass default (e.g. for a classifier at most 30 epochs and
    14 minutes, ended earlier by patience; 10 minutes for a language model).
    """
    values: dict[str, Any] = {}
    for layer in layers:
        if any(layer.get(name) is not None for name in BUDGET):
            values |= {name: layer.get(name) for name in BUDGET}
        values |= {k: v for k, v in layer.items() if k not in BUDGET}
    return from_dict(cls, values, "trainer")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Sections ``{"model": {...}, "data": {...}, "trainer": {...}, ...}`` from JSON or TOML.

    ``.toml`` files need Python 3.11 (tomllib) or the ``tomli`` package; anything else is read
    as JSON. A missing or malformed file (nesting too deep to parse included, or a key given
    twice in one object, which JSON parsers resolve by silently keeping the last and TOML
    refuses) is a DataError naming it.
    """
    path = check_input_file("config", path, "a JSON or TOML config file")
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            with path.open("rb") as f:
                config = tomllib.load(f)
        else:
            config = parse_json(path.read_text(encoding="utf-8"), unique_keys=True)
    except ModuleNotFoundError:
        raise DataError(f"{path}: TOML needs Python >= 3.11 or `pip install tomli`") from None
    except RecursionError:  # tomllib: arrays nested too deeply
        raise DataError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError, tomllib.TOMLDecodeError, not UTF-8
        raise DataError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in _sections(config)):
        raise DataError(f"{path}: expected sections such as [model], [data], [trainer]")
    return config


def _sections(config: dict[str, Any]) -> list[Any]:
    return [config[k] for k in ("model", "data", "trainer") if k in config]


def check_sections(config: Mapping[str, Any], sections: Iterable[str], where: str) -> None:
    """Refuse a top-level key of a config file that is neither one of ``sections`` nor one
    of :data:`RUN_RECORDS`: a misspelt section would otherwise be ignored. DataError naming
    the file (``where``), the key and the valid sections."""
    valid = list(sections)
    for key in config:
        if key not in valid and key not in RUN_RECORDS:
            raise DataError(
                f"{where}: unknown section {key!r}; expected {', '.join(valid)} (a run's "
                f"config.json also holds {', '.join(RUN_RECORDS)}, which are ignored)"
            )
