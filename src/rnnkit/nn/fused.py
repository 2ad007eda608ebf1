"""Dispatch to torch's fused recurrent kernels (oneDNN/ATen on CPU, cuDNN on GPU).

The layers in ``rnnkit.nn.layers`` call these with their own parameters, in torch.nn's flat
order (per layer and direction: w_ih, w_hh, b_ih, b_hh[, w_hr]), when the configuration is one
the kernels serve: no user cell, no layer normalisation, no active recurrent dropout.
These are the same ATen operators ``torch.nn.RNN/LSTM/GRU`` call, so results match torch.nn.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.nn import precision, wavefront
from rnnkit.nn.fused_lengths import PaddingOverflow, run_lengths
from rnnkit.nn.sequence import pack_like


def _lstm(*args: object) -> tuple[Tensor, ...]:
    """torch.lstm; under torch.compile run eagerly (a graph break), as torch.nn.LSTM is:
    traced, torch 2.13's oneDNN LSTM fails in AOTAutograd whenever a weight needs a gradient.
    (``torch.compiler.disable`` is called here, not at import: it imports torch._dynamo.)"""
    if torch.compiler.is_compiling():
        return torch.compiler.disable(torch.lstm)(*args)
    return torch.lstm(*args)


KERNELS: dict[str, Callable[..., tuple[Tensor, ...]]] = {
    "rnn_tanh": torch.rnn_tanh,
    "rnn_relu": torch.rnn_relu,
    "lstm": _lstm,
    "gru": torch.gru,
}

State = Tensor | tuple[Tensor, Tensor]
KERNEL_FLAGS = ("has_biases", "num_layers", "dropout", "training", "bidirectional")  # in order


def _kernel_dtype(mode: str, weights: list[Tensor]) -> torch.dtype:
    """bf16 when autocast asks for it and the measurement says it pays here, else fp32."""
    if torch.get_autocast_dtype("cpu") != torch.bfloat16:
        return torch.float32
    hidden = weights[1].shape[1] if mode != "lstm" else weights[0].shape[0] // 4
    return torch.bfloat16 if precision.bf16_kernel(mode, hidden, KERNELS[mode]) else torch.float32


def _products_dtype(mode: str, kernel: torch.dtype, weights: list[Tensor]) -> torch.dtype | None:
    """bf16 for the tanh wavefront's products over all steps (input projection, weight
    gradients) when autocast asks for bf16, the recurrence runs in fp32 (``kernel``) and bf16
    products measured faster here (:func:`rnnkit.nn.precision.bf16_products`); else None."""
    if mode != "rnn_tanh" or kernel != torch.float32 or torch.get_autocast_dtype("cpu") != torch.bfloat16:
        return None
    return torch.bfloat16 if precision.bf16_products(weights[1].shape[1]) else None


def _cast(value: State, dtype: torch.dtype) -> State:
    if isinstance(value, tuple):
        return (value[0].to(dtype), value[1].to(dtype))
    return value.to(dtype)


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

    On the CPU the batch is unpacked, run padded with its lengths (see :func:`run_padded`)
    and packed again: the packed kernels cost 1.4-4.6x that there (benchmarks/varlen_speed.py).
    Elsewhere it runs the packed kernel, as torch.nn does (:func:`padded_lengths_serve`).
    """
    dropout_between = flags["dropout"] and flags["training"] and flags["num_layers"] > 1  # type: ignore[operator]
    if dropout_between or not padded_lengths_serve(packed.data):
        # torch.nn draws the inter-layer dropout masks over packed.data: the same draws here
        states = hx if isinstance(hx, tuple) else (hx,)
        ordered = tuple(flags[name] for name in KERNEL_FLAGS)
        result, final_parts = _packed_kernel(mode, packed, states, weights, ordered)
        return result, _as_state(final_parts)
    padded, lengths = pad_packed_sequence(packed)  # (T, B, D) in the caller's order
    with warnings.catch_warnings():  # torch's packed kernel never takes the oneDNN path
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN")
        output, final = run_padded(mode, padded, hx, weights, lengths, **flags)  # type: ignore[arg-type]
    return pack_like(output, lengths, packed), final


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
    products: torch.dtype | None = None,
) -> tuple[Tensor, State]:
    """Run the fused kernel on x: (T, B, D), time first; returns output (T, B, dirs*H_out).

    With ``lengths`` (B,) each layer direction runs padded (:mod:`rnnkit.nn.fused_lengths`):
    padded steps give zero outputs and each h_n is taken at its sequence's last step.
    ``products``: the dtype of the tanh wavefront's products over all steps (set under bf16
    autocast, :func:`_products_dtype`); None: x's.
    """
    flags = (has_biases, num_layers, dropout, training, bidirectional)
    # Under CPU autocast (float64 aside) rnnkit picks the kernel's precision itself: torch's
    # autocast leaves the CPU recurrent kernels alone or fails (torch 2.13's oneDNN LSTM cannot
    # build a bf16 primitive on some CPUs), and where bf16 works it is faster on some CPUs and
    # 5-60x slower on others (rnnkit.nn.precision measures which). The layer then returns
    # torch.nn's dtypes (precision.torch_autocast_dtypes).
    if precision.cpu_autocast(x, weights[0]):
        dtype = _kernel_dtype(mode, weights)
        with torch.autocast("cpu", enabled=False):
            return run_padded(
                mode, x.to(dtype), _cast(hx, dtype), [w.to(dtype) for w in weights], lengths,
                has_biases=has_biases, num_layers=num_layers, dropout=dropout, training=training,
                bidirectional=bidirectional, products=_products_dtype(mode, dtype, weights),
            )  # fmt: skip
    if wavefront.serves(mode, x, weights, num_layers=num_layers, dropout=dropout,
                        training=training, bidirectional=bidirectional):  # fmt: skip
        try:
            return wavefront.run(x, hx, weights, lengths, has_biases=has_biases,  # type: ignore[arg-type]
                                 num_layers=num_layers, bidirectional=bidirectional,
                                 products=products)  # fmt: skip
        except wavefront.NonFinite:
            pass  # torch's kernel gives nan and inf where torch.nn does
    if lengths is None or bool((lengths == x.shape[0]).all()):
        output, *final = KERNELS[mode](x, _kernel_state(hx), weights, *flags, False)
        return output, _as_state(tuple(final))
    states = hx if isinstance(hx, tuple) else (hx,)
    if not padded_lengths_serve(x):  # the packed kernel, as torch.nn runs it there
        output, final = _run_packed_kernel(mode, x, states, weights, lengths, flags)
        return output, _as_state(final)
    try:
        output, final = run_lengths(
            KERNELS[mode], x, states, weights, lengths, has_biases=has_biases,
            num_layers=num_layers, dropout=dropout, training=training,
            bidirectional=bidirectional,
        )  # fmt: skip
    except PaddingOverflow:
        output, final = _run_packed_kernel(mode, x, states, weights, lengths, flags)
    return output, _as_state(final)


def padded_lengths_serve(x: Tensor) -> bool:
    """Do variable lengths run on the padded kernel, one call per layer direction
    (:mod:`rnnkit.nn.fused_lengths`), for input x? On the CPU, where the packed kernels cost
    1.4-4.6x the padded batch. On a GPU nothing was measured: cuDNN's packed kernel runs every
    layer and direction in one call, on the live rows only, so variable lengths take the call
    torch.nn makes there, and cost what torch.nn's do."""
    return x.device.type == "cpu"


def _run_packed_kernel(
    mode: str, x: Tensor, states: tuple[Tensor, ...], weights: list[Tensor], lengths: Tensor,
    flags: tuple[bool, int, float, bool, bool],
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The packed kernel, as torch.nn runs it: x (T, B, D) with lengths (B,); states each
    (L*dirs, B, ·) in the batch's order. Returns output (T, B, dirs*H_out) and the states."""
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    result, final = _packed_kernel(mode, packed, states, weights, flags)
    return pad_packed_sequence(result, total_length=x.shape[0])[0], final


def _packed_kernel(
    mode: str, packed: PackedSequence, states: tuple[Tensor, ...], weights: list[Tensor],
    flags: tuple,
) -> tuple[PackedSequence, tuple[Tensor, ...]]:  # fmt: skip
    """torch's packed kernel, as torch.nn calls it: states each (L*dirs, B, ·) in the caller's
    order (permuted to the packing's and back); flags: has_biases, num_layers, dropout,
    training, bidirectional. The result keeps the input's batch sizes and indices."""
    order, unorder = packed.sorted_indices, packed.unsorted_indices
    hx = [s if order is None else s.index_select(1, order) for s in states]
    data, *final = KERNELS[mode](
        packed.data, packed.batch_sizes, hx if len(hx) == 2 else hx[0], weights, *flags
    )
    result = PackedSequence(data, packed.batch_sizes, order, unorder)
    return result, tuple(s if unorder is None else s.index_select(1, unorder) for s in final)
