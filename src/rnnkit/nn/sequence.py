"""Variable-length helpers for the recurrent layers: checked lengths, masks, in-place reversal.

Dimensions: T time steps, B batch, F features. Lengths travel as one 1-D int64 tensor ``(B,)``
on the CPU (what ``torch.nn.utils.rnn.pack_padded_sequence`` wants); masks derive from it.
Sequences are left-aligned: sequence b holds real steps ``0 .. lengths[b]-1``, then padding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnkit.errors import invalid


def check_lengths(lengths: Tensor | Sequence[int], batch: int, time: int) -> Tensor:
    """Validate ``lengths`` against a (T, B) input and return it as a CPU int64 tensor (B,).

    Every length must be an integer in 1..T; a zero length has no last step to report.
    """
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(list(lengths))
        except (TypeError, ValueError, RuntimeError):
            raise invalid("lengths", lengths, "a 1-D int tensor or a list of ints") from None
    bad_type = lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool
    if lengths.dim() != 1 or bad_type:
        raise invalid("lengths", lengths, "a 1-D integer tensor of shape (batch,)")
    lengths = lengths.detach().to("cpu", torch.int64)
    if lengths.numel() != batch:
        raise invalid("lengths", tuple(lengths.tolist()), f"{batch} lengths, one per sequence")
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > time):
        raise invalid("lengths", tuple(lengths.tolist()), f"every length in 1..{time} (time steps)")
    return lengths


def step_mask(lengths: Tensor, time: int, device: torch.device) -> Tensor:
    """mask[t, b] = t < lengths[b], as a (T, B, 1) bool tensor on ``device``."""
    steps = torch.arange(time, device=device)
    return (steps[:, None] < lengths.to(device)[None, :]).unsqueeze(-1)


def zero_padding(x: Tensor, mask: Tensor) -> Tensor:
    """x: (T, B, F) with +0.0 where ``mask`` (T, B, 1) is False, whatever was there (nan too)."""
    return torch.where(mask, x, 0.0)


def padding_rows(lengths: Tensor, time: int) -> Tensor:
    """The padded steps of a (T, B, F) batch as rows of its (T*B, F) view: t*B + b for every
    t >= lengths[b], in increasing order -> (P,) int64 on the CPU. ``lengths``: (B,) CPU."""
    steps = torch.arange(time)[:, None]  # (T, 1)
    return (steps >= lengths[None, :]).flatten().nonzero().squeeze(1)


def last_rows(lengths: Tensor) -> Tensor:
    """Each sequence's last real step as a row of the (T*B, F) view: (lengths[b]-1)*B + b ->
    (B,) int64 on the CPU."""
    batch = lengths.shape[0]
    return (lengths - 1) * batch + torch.arange(batch)


def zero_rows(x: Tensor, rows: Tensor) -> Tensor:
    """x: (T, B, F) with +0.0 in the (T*B, F) view's ``rows`` (P,), whatever was there (nan
    too). ``index_fill`` writes only those rows: about 2.5x faster on the CPU than
    :func:`zero_padding`'s ``where`` with a (T, B, 1) mask, which broadcasts over F.
    The result is contiguous, one copy of x whatever its strides (a batch-first input seen
    time first, or its gradient, would otherwise be copied twice)."""
    if x.is_contiguous():
        return x.view(-1, x.shape[-1]).index_fill(0, rows, 0.0).view(x.shape)
    return x.contiguous().view(-1, x.shape[-1]).index_fill_(0, rows, 0.0).view(x.shape)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of x: (T, B, F) within its own length; padding stays in place.

    Without lengths this is ``x.flip(0)``. Applying it twice gives x back.
    """
    if lengths is None:
        return x.flip(0)
    time, batch = x.shape[:2]
    steps = torch.arange(time)[:, None]  # (T, 1)
    lens = lengths[None, :]  # (1, B)
    source_step = torch.where(steps < lens, lens - 1 - steps, steps)  # (T, B)
    rows = (source_step * batch + torch.arange(batch)).flatten().to(x.device)  # (T*B,)
    if torch.is_grad_enabled() and x.requires_grad and not torch.jit.is_tracing():
        return _ReverseRows.apply(x, rows)
    return _take_rows(x, rows)


def _take_rows(x: Tensor, rows: Tensor) -> Tensor:
    """x: (T, B, F) -> the (T*B) rows of F features in the order ``rows`` (T*B,) gives."""
    return x.reshape(-1, x.shape[-1]).index_select(0, rows).view(x.shape)


class _ReverseRows(torch.autograd.Function):
    """:func:`_take_rows` by a reversal within lengths, whose gradient is the same reversal.

    The reversal is a permutation that is its own inverse, so its transpose (what the gradient
    needs) is itself: one more row copy, where ``index_select``'s own backward adds the rows
    into zeros (about 20x the time, and ``gather``'s scatter-add as much).
    """

    @staticmethod
    def forward(ctx, x: Tensor, rows: Tensor) -> Tensor:
        ctx.save_for_backward(rows)
        return _take_rows(x, rows)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (rows,) = ctx.saved_tensors
        return _ReverseRows.apply(grad, rows), None


def pack_like(output: Tensor, lengths: Tensor, packed: PackedSequence) -> PackedSequence:
    """output (T, B, H) in the caller's batch order, packed the way ``packed`` is: the same
    batch sizes, sorted and unsorted indices, and so the same row order in ``.data``."""
    order = packed.sorted_indices
    if order is not None:
        output, lengths = output.index_select(1, order.to(output.device)), lengths[order.cpu()]
    data = pack_padded_sequence(output, lengths).data
    return PackedSequence(data, packed.batch_sizes, order, packed.unsorted_indices)
