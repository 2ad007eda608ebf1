"""One time step of a stacked recurrent layer for token-by-token inference (generation).

Dimensions: N sequences stepped together, D input features, H hidden units, L layers.

A layer's ``forward`` on a (1, N, D) input validates its arguments, builds the initial state,
projects the input for all steps and loops over one step; at one token per call that
bookkeeping costs more than the arithmetic. :class:`LayerStepper` takes the layer's weights
once and then runs each step as one ATen cell operator per layer (``torch.lstm_cell``,
``torch.gru_cell``, ``torch.rnn_tanh_cell``, ``torch.rnn_relu_cell``: the operators
``torch.nn.LSTMCell`` & co. call), with no checks, on states kept as one tuple per layer.
It serves unidirectional layers without layer norm, projection or a user cell, in eval mode
(inter-layer dropout is off at inference): the configurations a language model samples from.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnnkit.errors import invalid

LayerState = tuple[Tensor, ...]  # (h,) or (h, c), each (N, H)
State = Tensor | tuple[Tensor, Tensor]  # a layer's (L, N, H) state, as forward returns it

CELL_OPS: dict[str, Callable[..., Tensor | tuple[Tensor, Tensor]]] = {
    "lstm": torch.lstm_cell,
    "gru": torch.gru_cell,
    "rnn_tanh": torch.rnn_tanh_cell,
    "rnn_relu": torch.rnn_relu_cell,
}


def steppable(layer: torch.nn.Module) -> bool:
    """True when :class:`LayerStepper` serves ``layer`` (an rnnkit.nn RNN/LSTM/GRU)."""
    return not (
        getattr(layer, "user_cell", True)
        or layer.layer_norm
        or layer.proj_size
        or layer.bidirectional
        or layer.kernel not in CELL_OPS
    )


def split_state(state: State) -> list[LayerState]:
    """(L, N, H) state(s) -> one (h[, c]) tuple of (N, H) views per layer."""
    parts = state if isinstance(state, tuple) else (state,)
    return [tuple(p[layer] for p in parts) for layer in range(parts[0].shape[0])]


def join_state(states: list[LayerState]) -> State:
    """Inverse of :func:`split_state`: per-layer tuples -> (L, N, H) state(s)."""
    stacked = tuple(torch.stack(parts) for parts in zip(*states, strict=True))
    return stacked if len(stacked) == 2 else stacked[0]


def select_layer_states(states: list[LayerState], index: Tensor) -> list[LayerState]:
    """Keep the sequences ``index`` (K,) of every layer's state -> (K, H) each."""
    return [tuple(s.index_select(0, index) for s in layer) for layer in states]


class LayerStepper:
    """One step of ``layer`` (rnnkit.nn RNN/LSTM/GRU, see module docstring) per call.

    The weights are read from the layer when the stepper is made: make a new one after
    changing them.
    """

    def __init__(self, layer: torch.nn.Module) -> None:
        if not steppable(layer):
            raise invalid(
                "layer", type(layer).__name__,
                "a unidirectional rnnkit.nn RNN/LSTM/GRU without layer_norm, proj_size or cell",
            )  # fmt: skip
        self.op = CELL_OPS[layer.kernel]
        self.has_cell_state = layer.kernel == "lstm"
        weights = [w.detach() for w in layer.flat_weights]
        per = len(weights) // layer.num_layers
        self.weights = [
            tuple(weights[i * per : (i + 1) * per]) + ((None, None) if per == 2 else ())
            for i in range(layer.num_layers)
        ]  # per layer: (w_ih, w_hh, b_ih, b_hh), biases None without bias

    def __call__(self, x: Tensor, states: list[LayerState]) -> tuple[Tensor, list[LayerState]]:
        """x: (N, D), states: per layer (h[, c]) each (N, H) -> top h (N, H), new states."""
        new_states = []
        for weights, state in zip(self.weights, states, strict=True):
            if self.has_cell_state:
                h, c = self.op(x, state, *weights)
                new_states.append((h, c))
            else:
                h = self.op(x, state[0], *weights)
                new_states.append((h,))
            x = h
        return x, new_states
