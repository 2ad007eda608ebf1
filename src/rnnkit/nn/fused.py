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
    *,
    has_biases: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
) -> tuple[PackedSequence, State]:
    """Run the fused kernel on a PackedSequence.

    hx: (L*dirs, B, H) per state tensor in the caller's batch order; it is permuted into the
    packed (sorted) order for the kernel and the final state permuted back.
    """
    if _cpu_autocast(packed.data):
        with torch.autocast("cpu", enabled=False):
            data = packed.data.float()
            as_fp32 = PackedSequence(
                data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
            )
            return run_packed(
                mode, as_fp32, _float32(hx), weights, has_biases=has_biases, num_layers=num_layers,
                dropout=dropout, training=training, bidirectional=bidirectional,
            )  # fmt: skip
    order = packed.sorted_indices
    if order is not None:
        hx = (
            tuple(s.index_select(1, order) for s in hx)
            if isinstance(hx, tuple)
            else hx.index_select(1, order)
        )
    output, *final = KERNELS[mode](
        packed.data, packed.batch_sizes, _kernel_state(hx), weights,
        has_biases, num_layers, dropout, training, bidirectional,
    )  # fmt: skip
    if packed.unsorted_indices is not None:
        final = [s.index_select(1, packed.unsorted_indices) for s in final]
    out = PackedSequence(output, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    return out, _as_state(tuple(final))


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

    With ``lengths`` (B,) the batch is packed for the kernel and unpacked to T steps after,
    so padded steps give zero outputs and each h_n is taken at its sequence's last step.
    """
    flags = (has_biases, num_layers, dropout, training, bidirectional)
    if _cpu_autocast(x):
        with torch.autocast("cpu", enabled=False):
            return run_padded(
                mode, x.float(), _float32(hx), weights, lengths, has_biases=has_biases,
                num_layers=num_layers, dropout=dropout, training=training, bidirectional=bidirectional,
            )  # fmt: skip
    if lengths is None:
        output, *final = KERNELS[mode](x, _kernel_state(hx), weights, *flags, False)
        return output, _as_state(tuple(final))
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    packed_out, final_state = run_packed(
        mode, packed, hx, weights, has_biases=has_biases, num_layers=num_layers,
        dropout=dropout, training=training, bidirectional=bidirectional,
    )  # fmt: skip
    output, _ = pad_packed_sequence(packed_out, total_length=x.shape[0])
    return output, final_state
