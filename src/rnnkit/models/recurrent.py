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
from rnnkit.errors import invalid
from rnnkit.nn.dispatch import IMPLEMENTATIONS

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
        if self.cell not in CELLS:
            raise invalid("cell", self.cell, f"one of {', '.join(CELLS)}")
        for name in ("num_layers", "hidden_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise invalid(name, value, "a positive int")
        for name in ("dropout", "recurrent_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise invalid(name, getattr(self, name), "a probability in [0, 1)")
        if self.proj_size and self.cell != "lstm":
            raise invalid("proj_size", self.proj_size, "0 unless cell='lstm'")
        if not isinstance(self.proj_size, int) or not 0 <= self.proj_size < self.hidden_size:
            raise invalid("proj_size", self.proj_size, "an int in 0..hidden_size-1 (0 = off)")
        if self.implementation not in IMPLEMENTATIONS:
            raise invalid("implementation", self.implementation, f"one of {IMPLEMENTATIONS}")

    @property
    def output_size(self) -> int:
        """Width of one direction's output: proj_size when projecting, else hidden_size."""
        return self.proj_size or self.hidden_size

    def make_rnn(self, input_size: int, bidirectional: bool = False) -> nn.Module:
        """The batch-first ``rnnkit.nn`` stack: (B, T, input_size) -> (B, T, dirs*output_size)."""
        extra: dict[str, Any] = {"proj_size": self.proj_size} if self.cell == "lstm" else {}
        return CELLS[self.cell](
            input_size,
            self.hidden_size,
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
