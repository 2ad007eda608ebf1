"""Record every step of a recurrent layer: states and gate activations per layer and direction.

Dimensions: T time, B batch, D input features, H hidden units, H_out = P (LSTM ``proj_size``)
or H, L layers, dirs = 2 if bidirectional else 1.

::

    rec = record(lstm, x)            # x: (T, B, D), or (B, T, D) with lstm.batch_first
    rec.output                       # (T, B, dirs*H_out)  == lstm(x)[0]
    rec.h[layer]                     # (T, B, dirs*H_out)  every layer's output, not only the top
    rec.gates["forget"][layer]       # (T, B, dirs*H)      f_t of each unit at each step

The loop runs the layer's own weights (its torch.nn parameter names) through the step
functions of :mod:`rnnkit.nn.cells` (``lstm_step_gates``, ``gru_step_gates``,
``simple_rnn_step``), so no equation is written twice; the recorded ``output`` and ``h_n``
equal what the layer's fused path computes (tested). The reverse direction's values are stored
at the time step of the input they were computed at, as in the layer's output.

It computes the layer's eval-mode function (no dropout) on unpadded sequences, under
``torch.no_grad`` unless the caller enables gradients. User cells are not supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.errors import invalid
from rnnkit.nn import cells
from rnnkit.nn.layers import GRU, LSTM, RNN

GATES = {LSTM: ("input", "forget", "cell", "output"), GRU: ("reset", "update", "candidate")}


@dataclass
class Recording:
    """Per-step values of a recurrent layer over one batch (see the module docstring).

    h: (L, T, B, dirs*H_out), each layer's output; c: (L, T, B, dirs*H) cell states (LSTM) or
    None; activation: (L, T, B, dirs*H), tanh(c_t) for LSTM (tanh(LN(c_t)) with layer_norm),
    h_t for GRU and RNN; gates: name -> (L, T, B, dirs*H), LSTM input/forget/cell/output
    (i, f, g, o), GRU reset/update/candidate (r, z, n), none for RNN; h_n: (L*dirs, B, H_out)
    and c_n: (L*dirs, B, H) or None, the final states in torch.nn's layout.
    """

    h: Tensor
    c: Tensor | None
    activation: Tensor
    gates: dict[str, Tensor]
    h_n: Tensor
    c_n: Tensor | None

    @property
    def output(self) -> Tensor:
        """(T, B, dirs*H_out): the top layer's output, what the layer's forward returns."""
        return self.h[-1]


def record(layer: nn.Module, x: Tensor) -> Recording:
    """Run ``layer`` (rnnkit.nn.LSTM, GRU or RNN) over ``x`` step by step, recording it all.

    x: (T, B, D), or (B, T, D) when ``layer.batch_first``; every sequence has T real steps
    and the initial state is zero. Returned tensors are time-major (T, B, ...) whatever
    ``batch_first`` is.
    """
    kind = next((k for k in (LSTM, GRU, RNN) if isinstance(layer, k)), None)
    if kind is None or getattr(layer, "user_cell", False):
        raise invalid("layer", type(layer).__name__, "an rnnkit.nn LSTM, GRU or RNN without a user cell")
    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != layer.input_size:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise invalid("x", shape, f"a 3-D tensor with last dimension {layer.input_size}")
    if layer.batch_first:
        x = x.transpose(0, 1)  # (T, B, D)
    names = GATES.get(kind, ())
    per_layer: list[dict[str, Tensor]] = []
    finals: list[tuple[Tensor, ...]] = []
    layer_input = x
    for index in range(layer.num_layers):
        directions = []
        for direction in range(layer.num_directions):
            source = layer_input if direction == 0 else layer_input.flip(0)
            steps, final = _run_direction(layer, kind, index, direction, source)
            if direction == 1:
                steps = {name: value.flip(0) for name, value in steps.items()}
            directions.append(steps)
            finals.append(final)
        merged = {name: torch.cat([d[name] for d in directions], -1) for name in directions[0]}
        per_layer.append(merged)
        layer_input = merged["h"]
    stacked = {name: torch.stack([p[name] for p in per_layer]) for name in per_layer[0]}
    has_c = kind is LSTM
    return Recording(
        h=stacked["h"],
        c=stacked["c"] if has_c else None,
        activation=stacked["tanh_c"] if has_c else stacked["h"],
        gates={name: stacked[name] for name in names},
        h_n=torch.stack([f[0] for f in finals]),
        c_n=torch.stack([f[1] for f in finals]) if has_c else None,
    )


def _run_direction(
    layer: nn.Module, kind: type, index: int, direction: int, x: Tensor
) -> tuple[dict[str, Tensor], tuple[Tensor, ...]]:
    """One layer direction over x (T, B, D_l), reversed already for the reverse direction.

    Returns name -> (T, B, size) for h, c, tanh_c and the gates, and the final (h[, c]).
    """
    suffix = f"_l{index}" + ("_reverse" if direction else "")

    def param(name: str) -> Tensor | None:
        return getattr(layer, name + suffix, None)

    def norm(kind_: str) -> cells.Norm:
        if not layer.layer_norm:
            return None
        return param(f"{kind_}_weight"), param(f"{kind_}_bias")

    gi = cells.input_projection(x, param("weight_ih"), param("bias_ih"), norm("ln_ih"))
    w_hh, b_hh, norm_hh = param("weight_hh"), param("bias_hh"), norm("ln_hh")
    batch = x.shape[1]
    h = x.new_zeros(batch, layer.proj_size or layer.hidden_size)
    c = x.new_zeros(batch, layer.hidden_size)
    names = GATES.get(kind, ())
    steps: dict[str, list[Tensor]] = {}
    for t in range(x.shape[0]):
        if kind is LSTM:
            h, c, acts = cells.lstm_step_gates(
                gi[t], h, c, w_hh, b_hh, param("weight_hr"), norm_hh, norm("ln_c")
            )
            values = {"c": c, "tanh_c": acts[4], **dict(zip(names, acts[:4], strict=True))}
        elif kind is GRU:
            h, acts = cells.gru_step_gates(gi[t], h, w_hh, b_hh, norm_hh)
            values = dict(zip(names, acts[:3], strict=True))
        else:
            h = cells.simple_rnn_step(gi[t], h, w_hh, b_hh, layer.nonlinearity, norm_hh)
            values = {}
        for name, value in {"h": h, **values}.items():
            steps.setdefault(name, []).append(value)
    final = (h, c) if kind is LSTM else (h,)
    return {name: torch.stack(values) for name, values in steps.items()}, final
