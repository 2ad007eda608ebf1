"""Variable-length batches on torch's fused kernels at the cost of the padded batch.

Dimensions: T time (the longest length), B batch, D input features, H hidden units, H_out
output units (P with an LSTM projection), L layers, dirs directions.

Packing (``pack_padded_sequence``) makes the kernels shrink the batch step by step, which on
the CPU costs 1.4-4.6x the padded batch (many small matrix products). Instead, on the CPU
(:func:`rnnkit.nn.fused.padded_lengths_serve`), every layer direction runs the fast padded
kernel once over the whole (T, B) batch:

* forward direction: steps after a sequence's length cannot change its earlier steps, so the
  padded run's outputs at real steps are exact; h_n is gathered at step ``lengths - 1``;
* reverse direction: each sequence is reversed within its own length
  (:func:`rnnkit.nn.sequence.reverse_padded`), run forward from the initial state (which
  therefore enters at the sequence's own last real step), and the outputs reversed back;
* LSTM's c_n is not among the outputs, so the padded steps are made to carry c unchanged: the
  input gets one more feature, 1 at padded steps and 0 at real ones, whose weight column is
  -BIG on the input gate and +BIG on the forget gate (0 on g and o). At a padded step
  sigmoid saturates to i = 0, f = 1 exactly, so c_t = c_{t-1}, and c_T is each sequence's
  c at its last step. At real steps the column adds exact zeros.

The input's padded steps are set to 0 first: the padded runs see them, and a nan or inf there
would flow backward through the padded steps into the gradients (torch.nn's packed kernels
never see the padding). Layers run one kernel call per layer direction; the inter-layer
dropout is applied here, as torch's kernels do (on every layer's output but the last's, in
training). Each layer direction's h_n is read at each last step (:class:`_MaskAndLast`).
The last layer's output is zero after each length, in the same operation (its gradient is one
row fill and a (B, H) row add). A lower layer's output is left as the kernel wrote it: what it
holds after a length reaches only the next layer's steps after that length, in either direction
(the reversal keeps padding in place), so it changes no result, as long as it is finite.
Bounded cells (tanh, LSTM, GRU) keep it so; a relu layer's padded steps can overflow to inf
(h_t = relu(W_hh h_{t-1} + b) with growing weights), and then the padded run's weight
gradients take 0 * inf = nan where the packed kernels' do not. A relu output that is not
finite raises :class:`PaddingOverflow`, and the caller runs the packed kernels instead.
The result equals the packed kernels' up to float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.nn.sequence import last_rows, padding_rows, reverse_padded, step_mask, zero_rows

# Pre-activation pushed onto the input (-) and forget (+) gates at padded LSTM steps: far
# beyond where fp32 and bf16 sigmoids round to exactly 0 and 1 (|x| > ~104), small enough
# that W^T grad never overflows.
SATURATE = 1.0e4


class PaddingOverflow(ArithmeticError):
    """A relu layer's outputs overflowed in the padded run (see the module docstring)."""


def weights_per_direction(weights: list[Tensor], num_layers: int, dirs: int) -> list[list[Tensor]]:
    """Split torch.nn's flat weight list into one list per layer direction (index l*dirs+d)."""
    per = len(weights) // (num_layers * dirs)
    return [weights[i * per : (i + 1) * per] for i in range(num_layers * dirs)]


def _carry_cell_state(x: Tensor, weights: list[Tensor], pad: Tensor) -> tuple[Tensor, list[Tensor]]:
    """LSTM input and weights with the padded-step feature appended (see module docstring).

    x: (T, B, D), pad: (T, B, 1) 1.0 at padded steps -> (T, B, D + 1); w_ih (4H, D) -> (4H, D + 1).
    """
    w_ih = weights[0]
    hidden = w_ih.shape[0] // 4
    column = w_ih.new_zeros(4, hidden)
    column[0], column[1] = -SATURATE, SATURATE  # gates i, f, g, o
    w_aug = _WithColumn.apply(w_ih, column.reshape(-1, 1).to(w_ih.dtype))
    return torch.cat([x, pad.to(x.dtype)], dim=-1), [w_aug, *weights[1:]]


class _WithColumn(torch.autograd.Function):
    """[w, column]: w (G, D), column (G, 1) a constant -> (G, D + 1). Its gradient reaches w
    contiguous, as torch.nn's weight gradients are (``cat``'s backward hands w a strided
    slice of the (G, D + 1) gradient)."""

    @staticmethod
    def forward(ctx, w: Tensor, column: Tensor) -> Tensor:
        return torch.cat([w, column], dim=1)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad[:, :-1].contiguous(), None


class ZeroPadding(torch.autograd.Function):
    """x (T, B, D) with the (T*B, D) view's ``padding`` rows (P,) set to +0.0.

    The gradient passes through unchanged, without the mask's copy: what reaches x comes from
    the first layer's kernel, and there every padded row is already exactly zero (the last
    layer's output is masked, so no gradient enters a padded step, and none flows into one from
    a later padded step; an LSTM's c_n gradient crosses the padding through gates saturated
    to exactly 0 and 1). The parity tests compare x's gradient with the packed kernels'.
    """

    @staticmethod
    def forward(ctx, x: Tensor, padding: Tensor) -> Tensor:
        return zero_rows(x, padding)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


class _MaskAndLast(torch.autograd.Function):
    """out (T, B, H) -> (out with zeros after each length, out at each last step (B, H)).

    The rows are those of the (T*B, H) view: ``padding`` (P,) and ``last`` (B,); with
    ``padding`` None the output is ``out`` itself, unmasked. The gradient is the output's
    gradient (with its padding rows zeroed) and h_n's gradient added to the B last rows, in
    one copy, or none: an unmasked output whose h_n is unused passes its gradient through. A
    separate gather's backward would instead fill a (T, B, H) tensor of zeros, add the B rows
    to it and add it whole to the mask's gradient (two more passes).
    """

    @staticmethod
    def forward(
        ctx, out: Tensor, padding: Tensor | None, last: Tensor
    ) -> tuple[Tensor, Tensor]:
        ctx.save_for_backward(padding, last)
        ctx.set_materialize_grads(False)  # an unused output's gradient arrives as None
        ctx.shape, ctx.dtype = out.shape, out.dtype
        rows = out.reshape(-1, out.shape[-1])
        masked = out if padding is None else zero_rows(out, padding)
        return masked, rows.index_select(0, last)

    @staticmethod
    def backward(
        ctx, grad_out: Tensor | None, grad_last: Tensor | None
    ) -> tuple[Tensor | None, None, None]:
        padding, last = ctx.saved_tensors
        if grad_out is None and grad_last is None:
            return None, None, None
        if grad_out is None:
            grad = last.new_zeros(ctx.shape, dtype=ctx.dtype)
        elif padding is not None:
            grad = zero_rows(grad_out, padding)  # a copy of our own
        elif grad_last is None:
            return grad_out, None, None
        else:
            grad = grad_out.clone(memory_format=torch.contiguous_format)
        if grad_last is not None:
            grad.view(-1, grad.shape[-1]).index_add_(0, last, grad_last)
        return grad, None, None


def run_lengths(
    kernel,  # one of rnnkit.nn.fused.KERNELS
    x: Tensor,
    states: tuple[Tensor, ...],
    weights: list[Tensor],
    lengths: Tensor,
    *,
    has_biases: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The fused kernel over a padded batch with lengths, one call per layer direction.

    x: (T, B, D); states: (h_0[, c_0]) each (L*dirs, B, ·); lengths: (B,) CPU int64 in 1..T.
    Returns output (T, B, dirs*H_out), zero after each length, and the final states
    (L*dirs, B, ·) at each sequence's last step (the reverse direction's at its first).
    Raises :class:`PaddingOverflow` when a relu layer's outputs are not finite.
    """
    total = x.shape[0]
    time = int(lengths.max())
    x = x[:time]  # steps after the longest sequence change nothing
    dirs = 2 if bidirectional else 1
    padding = padding_rows(lengths, time).to(x.device)
    last = last_rows(lengths).to(x.device)
    x = ZeroPadding.apply(x, padding)  # padding that is inf or nan would reach the gradients
    carry_c = len(states) == 2
    pad = ~step_mask(lengths, time, x.device) if carry_c else None
    per_direction = weights_per_direction(weights, num_layers, dirs)
    bounded = kernel is not torch.rnn_relu  # outputs finite wherever the input is finite
    finals: list[list[Tensor]] = [[] for _ in states]
    layer_input = x
    for layer in range(num_layers):
        outputs = []
        for direction in range(dirs):
            index = layer * dirs + direction
            source = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
            w = per_direction[index]
            if carry_c:
                source, w = _carry_cell_state(source, w, pad)
            hx = [s[index : index + 1] for s in states]
            out, *final = kernel(
                source, hx if carry_c else hx[0], w, has_biases, 1, 0.0, training, False, False
            )  # out: (T, B, H_out)
            if not bounded and not bool(torch.isfinite(out).all()):
                raise PaddingOverflow(f"layer {layer} direction {direction}")
            masked = layer == num_layers - 1
            out, h_last = _MaskAndLast.apply(out, padding if masked else None, last)
            finals[0].append(h_last)
            if carry_c:
                finals[1].append(final[1].squeeze(0))
            outputs.append(out if direction == 0 else reverse_padded(out, lengths))
        layer_input = torch.cat(outputs, dim=-1) if dirs == 2 else outputs[0]
        if dropout and training and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    output = layer_input  # zero after each length: the last layer's directions are
    if time < total:
        output = F.pad(output, (0, 0, 0, 0, 0, total - time))
    return output, tuple(torch.stack(parts) for parts in finals)
