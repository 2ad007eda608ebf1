"""The recurrent stack both models share: its config fields and the ``rnnkit.nn`` layer they build.

``RecurrentConfig`` holds the engine options every model exposes (cell, depth, width, dropout
between layers, recurrent dropout, layer normalisation, LSTM projection, implementation);
:class:`~rnnkit.models.classifier.ClassifierConfig` and
:class:`~rnnkit.models.language_model.LanguageModelConfig` extend it (overriding a default
where the task wants another one) and build their stack with :meth:`RecurrentConfig.make_rnn`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

import rnnkit.nn as rnn
from rnnkit.config import check_types
from rnnkit.errors import invalid
from rnnkit.nn.dispatch import IMPLEMENTATIONS
from rnnkit.validation import MAX_LAYERS, MAX_UNITS, check_choice, check_float, check_int

CELLS = rnn.LAYERS  # cell name -> recurrent layer class


@dataclass
class RecurrentConfig:
    """Engine options of a model's recurrent stack (see rnnkit.nn.LSTM for their meaning)."""

    cell: str = "lstm"  # recurrent cell: lstm | gru | rnn (tanh, Keras' SimpleRNN)
    num_layers: int = 1  # L: stacked recurrent layers
    hidden_size: int = 128  # H: units per layer (and direction)
    dropout: float = 0.3  # on the inputs of each layer after the first, and before the head
    recurrent_dropout: float = 0.0  # Gal & Ghahramani mask on h_{t-1} (runs the loop path)
    layer_norm: bool = False  # layer-normalised gates, Ba et al. 2016 (runs the loop path)
    proj_size: int = 0  # LSTM only: project h to this many units (0 = off; < hidden_size)
    implementation: str = "auto"  # auto | fused | loop: which path of rnnkit.nn runs

    def __post_init__(self) -> None:
        check_types(self)  # every field of this config and its subclasses
        check_choice("cell", self.cell, tuple(CELLS))
        check_int("num_layers", self.num_layers, 1, MAX_LAYERS)
        check_int("hidden_size", self.hidden_size, 1, MAX_UNITS)
        for name in ("dropout", "recurrent_dropout"):
            check_float(name, getattr(self, name), 0, 1, hi_open=True)
        if not isinstance(self.layer_norm, bool):
            raise invalid("layer_norm", self.layer_norm, "True or False")
        if self.proj_size and self.cell != "lstm":
            raise invalid("proj_size", self.proj_size, "0 unless cell='lstm'")
        check_int("proj_size", self.proj_size, 0, self.hidden_size - 1)
        check_choice("implementation", self.implementation, tuple(IMPLEMENTATIONS))

    @property
    def output_size(self) -> int:
        """Width of one direction's output: proj_size when projecting, else hidden_size."""
        return self.proj_size or self.hidden_size

    def make_rnn(
        self, input_size: int, bidirectional: bool = False, hidden_size: int | None = None
    ) -> nn.Module:
        """The batch-first ``rnnkit.nn`` stack: (B, T, input_size) -> (B, T, dirs*output_size).

        ``hidden_size`` replaces the config's (an encoder-decoder's encoder has its own width).
        """
        extra: dict[str, Any] = {"proj_size": self.proj_size} if self.cell == "lstm" else {}
        return CELLS[self.cell](
            input_size,
            hidden_size or self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout if self.num_layers > 1 else 0.0,
            bidirectional=bidirectional,
            batch_first=True,
            recurrent_dropout=self.recurrent_dropout,
            layer_norm=self.layer_norm,
            implementation=self.implementation,
            **extra,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
