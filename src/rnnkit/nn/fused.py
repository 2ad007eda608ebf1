"""Dispatch to torch's fused recurrent kernels (oneDNN/ATen on CPU, cuDNN on GPU).

The layers in ``rnnkit.nn.layers`` call these with their own parameters, in torch.nn's flat
order (per layer and direction: w_ih, w_hh, b_ih, b_hh[, w_hr]), when the configuration is one
the kernels serve: no user cell, no layer normalisation, no active recurrent dropout.
These are the same ATen operators ``torch.nn.RNN/LSTM/GRU`` call, so results match torch.nn.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.nn.fused_lengths import run_lengths

KERNELS: dict[str, Callable[..., tuple[Tensor, ...]]] = {
    "rnn_tanh": torch.rnn_tanh,
    "rnn_relu": torch.rnn_relu,
    "lstm": torch.lstm,
    "gru": torch.gru,
}

State = Tensor | tuple[Tensor, Tensor]


def _cpu_autocast(x: Tensor) -> bool:
    """True under CPU autocast: the kernels then run in fp32 with autocast off.

    torch 2.13's oneDNN LSTM cannot build a primitive for autocast's bf16 inputs (torch.nn.LSTM
    fails the same way), and its bf16 backward on CPU measured about 60x slower than fp32 here,
    so the recurrent kernel stays fp32 while the layers around it still use bf16.
    """
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu")


def _float32(value: State) -> State:
    if isinstance(value, tuple):
        return (value[0].float(), value[1].float())
    return value.float()


def _kernel_state(hx: State) -> list[Tensor] | Tensor:
    """The kernels take LSTM's (h, c) as a list and the others' h as a tensor."""
    return list(hx) if isinstance(hx, tuple) else hx


def _as_state(parts: tuple[Tensor, ...]) -> State:
    return (parts[0], parts[1]) if len(parts) == 2 else parts[0]


def run_packed(
    mode: str,
    packed: PackedSequence,
    hx: State,
    weights: list[Tensor],
    **flags: object,
) -> tuple[PackedSequence, State]:
    """Run the fused kernel on a PackedSequence; hx: (L*dirs, B, H) in the caller's order.

    The batch is unpacked, run padded with its lengths (see :func:`run_padded`) and packed
    again: the packed kernels cost 1.4-4.6x that on the CPU (benchmarks/varlen_speed.py).
    """
    padded, lengths = pad_packed_sequence(packed)  # (T, B, D) in the caller's order
    output, final = run_padded(mode, padded, hx, weights, lengths, **flags)  # type: ignore[arg-type]
    order = packed.sorted_indices
    if order is not None:  # pack in the input's own order, so the data lines up with it
        output, lengths = output.index_select(1, order.to(output.device)), lengths[order.cpu()]
    data = pack_padded_sequence(output, lengths).data
    return PackedSequence(data, packed.batch_sizes, order, packed.unsorted_indices), final


def run_padded(
    mode: str,
    x: Tensor,
    hx: State,
    weights: list[Tensor],
    lengths: Tensor | None,
    *,
    has_biases: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
) -> tuple[Tensor, State]:
    """Run the fused kernel on x: (T, B, D), time first; returns output (T, B, dirs*H_out).

    With ``lengths`` (B,) each layer direction runs padded (:mod:`rnnkit.nn.fused_lengths`):
    padded steps give zero outputs and each h_n is taken at its sequence's last step.
    """
    flags = (has_biases, num_layers, dropout, training, bidirectional)
    if _cpu_autocast(x):
        with torch.autocast("cpu", enabled=False):
            return run_padded(
                mode, x.float(), _float32(hx), weights, lengths, has_biases=has_biases,
                num_layers=num_layers, dropout=dropout, training=training, bidirectional=bidirectional,
            )  # fmt: skip
    if lengths is None or bool((lengths == x.shape[0]).all()):
        output, *final = KERNELS[mode](x, _kernel_state(hx), weights, *flags, False)
        return output, _as_state(tuple(final))
    states = hx if isinstance(hx, tuple) else (hx,)
    output, final = run_lengths(
        KERNELS[mode], x, states, weights, lengths, has_biases=has_biases,
        num_layers=num_layers, dropout=dropout, training=training, bidirectional=bidirectional,
    )  # fmt: skip
    return output, _as_state(final)
