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

At a few rows a step's products are matrix-vector products, and BLAS libraries pick different
kernels for the two ways a weight can be stored. With MKL on a 2-core AMD EPYC, (1, 256) times a
(1024, 256) weight took 22 us with the weight stored transposed against 28 us as stored, while
from 4 rows up the stored layout was faster. :func:`laid_out` measures it once per process for
each shape and gives the steps whichever copy is faster.
"""

from __future__ import annotations

import functools
import time
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


LAYOUT_SPEEDUP = 1.1  # the transposed copy must be at least this much faster to be used
LAYOUT_MAX_NUMEL = 1 << 22  # larger weights keep their layout (no second copy to measure)


def laid_out(weight: Tensor, rows: int) -> Tensor:
    """``weight`` (out, in), or an equal view of a transposed copy, whichever computes
    ``x @ weight.t()`` for x (rows, in) faster on this machine (CPU; elsewhere ``weight``)."""
    if (
        weight.device.type != "cpu"
        or weight.numel() > LAYOUT_MAX_NUMEL
        or not _transposed_faster(rows, *weight.shape, weight.dtype)
    ):
        return weight
    return weight.t().contiguous().t()


@functools.cache
def _transposed_faster(rows: int, out: int, inputs: int, dtype: torch.dtype) -> bool:
    """Is (rows, inputs) x (inputs, out) faster from a weight stored transposed?  Best of 5
    interleaved rounds of 10 products each (a few ms at a language model's sizes)."""
    x = torch.full((rows, inputs), 0.5, dtype=dtype)  # values do not matter, and the
    stored = torch.full((out, inputs), 0.5, dtype=dtype)  # global random state stays as it was
    transposed = stored.t().contiguous().t()
    best = {}
    with torch.inference_mode():
        for _ in range(5):
            for name, weight in (("stored", stored), ("transposed", transposed)):
                torch.mm(x, weight.t())  # warm-up, and a cold cache after the other layout
                start = time.perf_counter()
                for _ in range(10):
                    torch.mm(x, weight.t())
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    return best["transposed"] * LAYOUT_SPEEDUP <= best["stored"]


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
    changing them. ``rows``: how many sequences the steps will usually carry (the weights'
    layout is chosen for that, see :func:`laid_out`); any number works.
    """

    def __init__(self, layer: torch.nn.Module, rows: int = 1) -> None:
        if not steppable(layer):
            raise invalid(
                "layer", type(layer).__name__,
                "a unidirectional rnnkit.nn RNN/LSTM/GRU without layer_norm, proj_size or cell",
            )  # fmt: skip
        self.op = CELL_OPS[layer.kernel]
        self.has_cell_state = layer.kernel == "lstm"
        weights = [
            laid_out(w.detach(), rows) if w.dim() == 2 else w.detach() for w in layer.flat_weights
        ]
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
