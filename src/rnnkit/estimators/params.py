"""The estimators' constructor arguments, made from the config dataclasses (no default of their own).

An estimator class names its config sections (``SECTIONS = {"model": ClassifierConfig, ...}``)
and the fields it leaves out (``HIDDEN``: file columns, values derived from the data). From
them :class:`Estimator` gets

- an ``__init__`` whose signature lists every option with the dataclass default (so
  ``help()``, IDEs and scikit-learn's ``get_params`` see real keyword arguments);
- a docstring section "Arguments" with each field's inline comment;
- ``get_params`` / ``set_params`` as scikit-learn defines them (arguments stored unchanged,
  checked as the constructor checks them);
- :meth:`Estimator.configs`: the arguments routed back to their dataclasses;
- what a fitted estimator shares: ``save``, ``from_fitted`` (``rnnkit.load``) and the
  "call fit first" error.
"""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rnnkit.config import field_docs, from_dict, unknown_key, with_budget
from rnnkit.errors import NotFittedError, invalid
from rnnkit.estimators.fitting import save_fitted


def exposed_fields(
    sections: Mapping[str, type], hidden: Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, Any]]:
    """``{field: (section, default)}`` of the fields an estimator exposes, in order.

    A name two sections both expose is a programming error (the argument would be ambiguous).
    """
    fields: dict[str, tuple[str, Any]] = {}
    for section, cls in sections.items():
        for field in dataclasses.fields(cls):
            if field.name in hidden.get(section, ()):
                continue
            if field.name in fields:
                raise TypeError(f"{field.name} is exposed by {fields[field.name][0]} and {section}")
            fields[field.name] = (section, field.default)
    return fields


class Estimator:
    """Base of the user-facing models: arguments from the config dataclasses (see module doc)."""

    SECTIONS: ClassVar[dict[str, type]] = {}  # section name -> config dataclass
    HIDDEN: ClassVar[dict[str, Sequence[str]]] = {}  # section -> fields not offered
    _fields: ClassVar[dict[str, tuple[str, Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = exposed_fields(cls.SECTIONS, cls.HIDDEN)
        parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
            for name, (_, default) in cls._fields.items()
        ]

        def __init__(self: Estimator, **params: Any) -> None:
            Estimator.__init__(self, **params)

        __init__.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        __init__.__doc__ = f"Create a {cls.__name__}; every argument is described in the class help."
        __init__.__qualname__ = f"{cls.__name__}.__init__"
        cls.__init__ = __init__  # type: ignore[method-assign]
        cls.__doc__ = (cls.__doc__ or "") + cls._arguments_doc()

    @classmethod
    def _arguments_doc(cls) -> str:
        """The "Arguments" section: one entry per field, grouped by section, from its comment."""
        lines = ["", "    Arguments (keyword only; each default is its config dataclass field's):"]
        for section, config in cls.SECTIONS.items():
            docs = field_docs(config)
            names = [n for n, (s, _) in cls._fields.items() if s == section]
            lines.append(f"\n    {section} ({config.__name__}):")
            for name in names:
                entry = f"{name}={cls._fields[name][1]!r}: {docs.get(name, '')}"
                lines.extend(textwrap.wrap(entry, 96, initial_indent="        ",
                                           subsequent_indent="            "))  # fmt: skip
        return "\n".join(lines) + "\n"

    def __init__(self, **params: Any) -> None:
        for name in params:
            if name not in self._fields:
                raise unknown_key(name, type(self).__name__, list(self._fields))
        for name, (_, default) in self._fields.items():
            setattr(self, name, params.get(name, default))
        self.configs()  # range-checked now, with the command line's messages (and again at fit)

    # ---- scikit-learn's estimator protocol ----
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as given (scikit-learn's ``get_params``)."""
        return {name: getattr(self, name) for name in self._fields}

    def set_params(self, **params: Any) -> Estimator:
        """Change constructor arguments (takes effect at the next ``fit``); returns self.

        The new arguments are checked together, as the constructor checks them; on an error
        (InvalidArgumentError naming the argument) the estimator keeps its previous ones.
        """
        for name in params:
            if name not in self._fields:
                raise unknown_key(name, type(self).__name__, list(self._fields))
        previous = self.get_params()
        for name, value in params.items():
            setattr(self, name, value)
        try:
            self.configs()
        except Exception:
            for name in params:
                setattr(self, name, previous[name])
            raise
        return self

    def __repr__(self) -> str:
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name, (_, default) in self._fields.items()
            if getattr(self, name) is not default and getattr(self, name) != default
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    # ---- configs ----
    def configs(self, budget: Mapping[str, Any] | None = None, **trainer: Any) -> dict[str, Any]:
        """``{section: config}`` from the arguments; ``budget`` (epochs / steps / minutes, as in
        :func:`rnnkit.config.with_budget`) and ``trainer`` options override theirs."""
        routed: dict[str, dict[str, Any]] = {section: {} for section in self.SECTIONS}
        for name, (section, _) in self._fields.items():
            routed[section][name] = getattr(self, name)
        routed["trainer"] |= trainer
        return {
            section: (
                with_budget(cls, routed[section], budget or {})
                if section == "trainer"
                else from_dict(cls, routed[section], section)
            )
            for section, cls in self.SECTIONS.items()
        }

    # ---- the fitted model (a Loaded* object: model, vectorizer(s), run config) ----
    fitted_: Any = None
    history_: list[dict[str, Any]]

    def _fitted(self) -> Any:
        if self.fitted_ is None:
            name = type(self).__name__
            raise invalid("self", f"an unfitted {name}", "a fitted model: call fit first",
                          NotFittedError)  # fmt: skip
        return self.fitted_

    def _set_fitted(self, fitted: Any) -> None:
        self.fitted_ = fitted

    def save(self, path: str | Path) -> Path:
        """Write the fitted model as a checkpoint directory; ``rnnkit.load(path)`` reads it."""
        return save_fitted(path, self.fitted_, type(self).__name__)

    @classmethod
    def from_fitted(cls, fitted: Any) -> Any:
        """The estimator of a loaded checkpoint, with the arguments it was trained with."""
        estimator = cls(**cls._params_from_run(fitted.config))
        estimator._set_fitted(fitted)
        estimator.history_ = []
        return estimator

    @classmethod
    def _params_from_run(cls, run_config: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor arguments that reproduce a run's config.json sections."""
        return {
            name: run_config[section][name]
            for name, (section, _) in cls._fields.items()
            if name in run_config.get(section, {})
        }
