"""A tanh RNN stack on the CPU as a wavefront: every layer advances in one product a step.

Dimensions: T time, B batch, D input features, H hidden units, L layers, S = T + L - 1 steps.

torch's kernel runs the layers one after another, and each layer step is a matrix product, an
add and a tanh. At the sizes text models use on a CPU (B = 128, H = 64 in the IMDB seed) each
of those costs 12-20 us whatever its size, so a forward pass is about 3 L T such operations.
Here step s computes layer l at time s - l for every layer at once. A buffer of S + 1 rows of
(B, L*H) holds in row r, slot l, layer l's state at time r - 1 - l, so that

    row[s + 1] = tanh(P[s] + row[s] @ W)

with W (L*H, L*H) block bidiagonal: W_hh_l^T on the diagonal (layer l's own previous state) and
W_ih_l^T above it (layer l - 1's state at the same time); P holds layer 0's input projection
(one product for all steps) and every layer's two biases. A forward pass is 2 (T + L - 1)
operations, a backward pass the same plus one product for W's gradient, instead of about
3 L T each way. Slots outside a layer's time range hold finite values no result reads (they
enter only through W's zero blocks); a layer's initial state is written into row l.

The tanh of each step is numpy's (``np.tanh`` on the row in place) where that measured at
least 1.1x faster than torch's on this machine (:func:`numpy_tanh`, cached per machine by
:mod:`rnnkit.nn.measured`; ``RNNKIT_NUMPY_TANH=0`` or ``1`` forces it): for the (128, 128)
rows of the IMDB seed numpy's took 7 us against torch's 24-42 us on an AVX-512 AMD EPYC
(torch 2.13), half of a forward step. Both are within about one unit in the last place of
the exact value. The rows and gradient buffers are reused across calls
(:mod:`rnnkit.nn.workspace`). Under bf16 autocast the recurrence stays in fp32 (a bf16 step
product was slower) while the products over all steps (layer 0's input projection, the
weights' gradients) run in bf16 where :func:`rnnkit.nn.precision.bf16_products` measured that
faster (``products=``).

Sums are grouped differently from torch's kernel (layer l's input and recurrent products are
one product here), so results equal torch.nn's up to float rounding, not bit for bit.
:func:`serves` keeps the wavefront to what it is faster at (measured by
benchmarks/wavefront_speed.py) and away from what needs torch's kernel (autograd
transforms, tracing, forward-mode AD). A non-finite input or weight goes back to the kernel: a
nan would otherwise cross into other layers through the zero blocks (0 * nan = nan).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch._subclasses.fake_tensor import is_fake

from rnnkit.nn import measured, workspace
from rnnkit.nn.checks import batched_gradients, custom_functions_unsupported
from rnnkit.nn.fused_lengths import ZeroPadding, weights_per_direction
from rnnkit.nn.sequence import last_rows, padding_rows, reverse_padded, zero_rows

# Where the wavefront measured faster than torch's kernel (forward + backward, T = 80, D = H,
# 2 threads, AMD EPYC; benchmarks/RESULTS.md "Wavefront", the run after numpy's tanh and the
# reused buffers): one layer up to H = 256 (1.09-2.32x); a stack up to L*H = 384 at any batch
# (1.08-4.44x). At L*H = 512 (two layers of 256) it measured 0.97-1.17x: too close to call on
# this VM, where one row moves 20-40% between runs. Wide stacks gain least: the block product
# wastes L^2 - (2L - 1) blocks and runs layer l > 0's input projection one step at a time
# instead of as one product.
ONE_LAYER_MAX_HIDDEN = 256
STACK_MAX_WIDTH = 384


class NonFinite(ArithmeticError):
    """An input, initial state or weight is inf or nan: run torch's kernel instead."""


def serves(
    mode: str, x: Tensor, weights: list[Tensor], *, num_layers: int, dropout: float,
    training: bool, bidirectional: bool,
) -> bool:  # fmt: skip
    """True where the wavefront replaces torch's kernel: a tanh stack (one direction, or each
    direction of a bidirectional one) on the CPU in fp32 or fp64 with no active dropout between
    layers, at sizes where it measured faster
    (:func:`faster_here`), outside tracing, compiling, torch.func transforms and forward-mode
    AD (the custom Function supports none of them), and for fake tensors."""
    hidden = weights[1].shape[1]
    return (
        mode == "rnn_tanh"
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and all(w.dtype == x.dtype for w in weights)
        and not (dropout and training and num_layers > 1)
        and faster_here(num_layers, hidden, bidirectional=bidirectional)
        and x.shape[0] > 1
        and x.shape[1] > 0
        and not torch.jit.is_tracing()
        and not torch.compiler.is_compiling()
        and not custom_functions_unsupported()
        and not is_fake(x)  # FakeTensorMode: no values, and the forward reads some
    )


def faster_here(layers: int, hidden: int, *, bidirectional: bool = False) -> bool:
    """The measured sizes (constants above) where the wavefront beats torch's kernel; a
    bidirectional stack runs one-layer wavefronts."""
    if layers == 1 or bidirectional:
        return hidden <= ONE_LAYER_MAX_HIDDEN
    return layers * hidden <= STACK_MAX_WIDTH


def run(
    x: Tensor, h0: Tensor, weights: list[Tensor], lengths: Tensor | None, *, has_biases: bool,
    num_layers: int, bidirectional: bool = False, products: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """x: (T, B, D), h0: (L*dirs, B, H), weights in torch.nn's flat order, lengths (B,) or None.
    ``products``: the dtype of the products over all steps (layer 0's input projection, the
    weights' gradients), bf16 under autocast where it measured faster; None: x's. The
    recurrence runs in x's dtype.

    Returns output (T, B, dirs*H), the last layer's, zero after each length, and h_n
    (L*dirs, B, H) at each sequence's last step (a reverse direction's at its first). A
    bidirectional stack runs each layer direction as a wavefront of one layer (a layer needs
    both directions of the one below it at every step); the reverse direction reverses its
    input projection within each length (:func:`rnnkit.nn.sequence.reverse_padded`) and its
    output back. Raises :class:`NonFinite` for an inf or nan input, state or weight.
    """
    if not bidirectional:
        return _stack(x, h0, weights, lengths, has_biases=has_biases, num_layers=num_layers,
                      products=products)  # fmt: skip
    per_direction = weights_per_direction(weights, num_layers, 2)
    finals = []
    for layer in range(num_layers):
        outputs = []
        for direction in (0, 1):
            index = 2 * layer + direction
            out, h_n = _stack(
                x, h0[index : index + 1], per_direction[index], lengths, has_biases=has_biases,
                num_layers=1, reverse=direction == 1, products=products,
            )  # fmt: skip
            outputs.append(out)
            finals.append(h_n)
        x = torch.cat(outputs, dim=-1)
    return x, torch.cat(finals)


def _stack(
    x: Tensor, h0: Tensor, weights: list[Tensor], lengths: Tensor | None, *, has_biases: bool,
    num_layers: int, reverse: bool = False, products: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """One direction of :func:`run`: output (T, B, H), h_n (L, B, H); ``reverse`` runs each
    sequence from its last step to its first."""
    total = x.shape[0]
    time = total if lengths is None else int(lengths.max())
    per = len(weights) // num_layers
    w_ih = [weights[i * per] for i in range(num_layers)]
    w_hh = [weights[i * per + 1] for i in range(num_layers)]
    hidden = w_hh[0].shape[0]
    if has_biases:
        bias = torch.cat([weights[i * per + 2] + weights[i * per + 3] for i in range(num_layers)])
    else:
        bias = x.new_zeros(num_layers * hidden)
    if lengths is None:
        padding, last = None, last_rows(torch.full((x.shape[1],), time))
    else:
        padding, last = padding_rows(lengths, time), last_rows(lengths)
        padding = padding if padding.numel() else None

    def projection(source: Tensor) -> Tensor:  # (time, B, H) in the order the steps run
        if products is None or products == source.dtype:
            projected = _project(source, w_ih[0])
        else:  # one pass: cast and laid out time first, as the fp32 product's copy would be
            projected = _project(source.to(products, memory_format=torch.contiguous_format), w_ih[0].to(products))
        if projected.shape[0] > time:  # steps after the longest sequence change nothing
            projected = projected[:time]
        return reverse_padded(projected, lengths) if reverse else projected

    # With a gradient, a forward direction's input projection runs inside the Function: into
    # the rows' reused buffer, from a reused time-first copy of x (no fresh pages each call)
    inside = not reverse and torch.is_grad_enabled()

    def wavefront(source: Tensor) -> tuple[Tensor, Tensor]:
        if inside:  # x's steps up to the longest sequence, projected inside
            source, w_in = (source if source.shape[0] == time else source[:time]), w_ih[0]
        else:
            source, w_in = projection(source), None
        return _Wavefront.apply(source, h0, bias, padding, last, products, w_in, *w_hh, *w_ih[1:])

    try:
        output, h_n = wavefront(x)
    except NonFinite:
        if padding is None:
            raise
        # again with the padding zeroed, as it may be the padding alone that is inf or nan:
        # the same results as for finite padding, to the bit
        output, h_n = wavefront(ZeroPadding.apply(x[:time], padding))
    if reverse:
        output = reverse_padded(output, lengths)
    if time < total:
        output = torch.nn.functional.pad(output, (0, 0, 0, 0, 0, total - time))
    return output, h_n


def numpy_tanh(dtype: torch.dtype) -> bool:
    """Does numpy's in-place tanh of a (128, 128) row run at least 1.1x faster than torch's
    here? Measured once per machine and dtype (``RNNKIT_NUMPY_TANH`` forces 0 or 1)."""
    name = str(dtype).removeprefix("torch.")
    return measured.cached(
        f"wavefront_numpy_tanh:{name}", functools.partial(_numpy_tanh_faster, dtype),
        "RNNKIT_NUMPY_TANH",
    )  # fmt: skip


def _numpy_tanh_faster(dtype: torch.dtype, rows: int = 50) -> bool:
    """``rows`` in-place tanh of a (128, 128) row each way, interleaved rounds (:func:`rnnkit.nn.measured.faster`)."""
    row = torch.randn(128, 128, dtype=dtype)
    array = row.numpy()

    def numpy_rows() -> None:
        for _ in range(rows):
            np.tanh(array, out=array)

    def torch_rows() -> None:
        for _ in range(rows):
            row.tanh_()

    return measured.faster(numpy_rows, torch_rows)


def _project(x: Tensor, weight: Tensor) -> Tensor:
    """x (T, B, D) @ weight^T: (T, B, H), for a reverse direction or without a gradient (a
    forward direction with one is projected inside :class:`_Wavefront`). A batch-first input
    seen time first that needs no gradient (inference) is projected as it lies, (B, T, D), and
    the result seen time first: no copy into time-first order (the wavefront adds the
    projection into its rows whatever its strides). With a gradient it is copied, so that its
    gradient comes back laid out as torch.nn's (time first, seen batch first). Padded steps
    are projected too: their rows' gradient is exactly zero (no output gradient enters a
    padded step, and none flows into one from a later one); a non-finite padding is zeroed
    and the wavefront run again (:func:`run`)."""
    batch_first = x.transpose(0, 1)
    if batch_first.is_contiguous() and not x.is_contiguous() and not x.requires_grad:
        return torch.nn.functional.linear(batch_first, weight).transpose(0, 1)
    return torch.nn.functional.linear(x, weight)


def _block_weight(w_ih: Sequence[Tensor], w_hh: Sequence[Tensor]) -> Tensor:
    """W (L*H, L*H): block (k, l) maps slot k to slot l: W_hh_l^T for k = l, W_ih_l^T for
    k = l - 1, zeros elsewhere. w_ih: layers 1..L-1's, w_hh: all L."""
    layers, hidden = len(w_hh), w_hh[0].shape[0]
    zero = w_hh[0].new_zeros(hidden, hidden)
    rows = []
    for k in range(layers):
        blocks = [zero] * layers
        blocks[k] = w_hh[k].t()
        if k + 1 < layers:
            blocks[k + 1] = w_ih[k].t()
        rows.append(torch.cat(blocks, dim=1))
    return torch.cat(rows, dim=0)


def _additive(projected: Tensor, bias: Tensor, layers: int) -> Tensor:
    """P (S, B, L*H): every slot's bias, plus layer 0's input projection at its T steps (the
    forward's rows hold the same, written in place)."""
    time, batch, hidden = projected.shape
    terms = bias.expand(time + layers - 1, batch, layers * hidden).clone()
    terms[:time, :, :hidden] += projected
    return terms


def _layer_rows(buf: Tensor, layer: int, time: int, hidden: int) -> Tensor:
    """Layer ``layer``'s outputs in ``buf`` (S + 1, B, L*H) as a (T*B, H) view."""
    block = buf[layer + 1 : layer + 1 + time, :, layer * hidden : (layer + 1) * hidden]
    return block.reshape(time * buf.shape[1], hidden)


def _outputs(
    buf: Tensor, shape: tuple[int, int, int], padding: Tensor | None, last: Tensor
) -> tuple[Tensor, Tensor]:
    """The last layer's output (T, B, H), masked, and each layer's rows ``last`` (L, B, H).
    Both are new tensors, never views of ``buf``: torch.nn's output takes in-place ops (and
    ``detach_``) after the forward, which a view of the saved rows would refuse."""
    time, layers, hidden = shape
    top = _layer_rows(buf, layers - 1, time, hidden).view(time, -1, hidden)
    if padding is None:
        output = top.clone(memory_format=torch.contiguous_format)
    else:
        output = zero_rows(top, padding)
    finals = [_layer_rows(buf, layer, time, hidden).index_select(0, last) for layer in range(layers)]
    return output, torch.stack(finals)


def _steps(terms: Tensor, h0: Tensor, weight: Tensor) -> Tensor:
    """The wavefront rows (S + 1, B, L*H), differentiable (torch ops, no writes into inputs)."""
    layers, batch, hidden = h0.shape
    row = torch.cat([h0[0], h0.new_zeros(batch, (layers - 1) * hidden)], dim=1)
    rows = [row]
    for s in range(terms.shape[0]):
        row = torch.tanh(terms[s] + row @ weight)
        if s < layers - 1:  # layer s + 1 starts from its initial state
            row = torch.cat([row[:, : (s + 1) * hidden], h0[s + 1], row[:, (s + 2) * hidden :]], 1)
        rows.append(row)
    return torch.stack(rows)


class _Wavefront(torch.autograd.Function):
    """(source, h0 (L, B, H), bias (L*H,), padding rows or None, last rows (B,), products (a
    dtype or None), W_ih_0 (H, D) or None, W_hh_0..W_hh_{L-1}, W_ih_1..W_ih_{L-1} (H, H)) ->
    (output (T, B, H), h_n (L, B, H)); the rows index a (T*B, ·) view. ``source`` is layer 0's
    input projection (T, B, H) when W_ih_0 is None, else its input x (T, B, D), any strides,
    projected here into the rows' buffer from a reused time-first copy (x's gradient comes
    back time first, as torch.nn's does). The recurrence runs in h0's dtype; the products over
    all steps run in ``products`` when given (bf16 under autocast; not under create_graph,
    below), and a given projection may be of that dtype.

    The backward runs the wavefront in reverse, 2 operations a step: the gradient reaching row
    r is its outputs' gradient plus dz[r + 1] @ W^T, and dz[r] = that * (1 - row[r]^2). Each
    weight's gradient is one product over all steps (contiguous, as torch.nn's are). Under
    create_graph the forward is run again with differentiable operations and differentiated,
    so second derivatives are exact too.
    """

    @staticmethod
    def forward(ctx, source, h0, bias, padding, last, products, w_in, *weights):
        time, batch = source.shape[:2]
        layers, _, hidden = h0.shape
        weight = _block_weight(weights[layers:], weights[:layers])
        steps = time + layers - 1
        buf = workspace.buffer("rows", (steps + 1, batch, layers * hidden), h0.dtype)
        buf[0, :, :hidden] = h0[0]
        buf[0, :, hidden:] = 0.0
        buf[1:].copy_(bias.expand(steps, batch, layers * hidden))
        inputs = None
        if w_in is None:
            buf[1 : time + 1, :, :hidden] += source
        else:  # x W_ih_0^T added into the rows in place (BLAS writes the strided rows)
            low = products or h0.dtype
            inputs = workspace.buffer("inputs", source.shape, low).copy_(source)
            rows_in = buf[1 : time + 1, :, :hidden].view(time * batch, hidden)
            if low == buf.dtype:
                rows_in.addmm_(inputs.view(time * batch, -1), w_in.t())
            else:
                rows_in += inputs.view(time * batch, -1) @ w_in.to(low).t()
        # one sum each: inf or nan anywhere makes it non-finite (a finite sum that overflows
        # only sends the batch to torch's kernel)
        if not bool(torch.isfinite(buf[1:].sum() + h0.sum() + weight.sum())):
            raise NonFinite("a non-finite input, initial state or weight")
        rows = buf.unbind(0)  # views made once, not per step
        arrays = buf.numpy() if numpy_tanh(buf.dtype) else None
        for s in range(steps):
            rows[s + 1].addmm_(rows[s], weight)  # in place: no copy of the additive terms
            if arrays is None:
                rows[s + 1].tanh_()
            else:
                np.tanh(arrays[s + 1], out=arrays[s + 1])
            if s < layers - 1:  # layer s + 1 starts from its initial state
                rows[s + 1][:, (s + 1) * hidden : (s + 2) * hidden] = h0[s + 1]
        ctx.save_for_backward(source, h0, bias, padding, last, buf, weight, w_in, inputs, *weights)
        ctx.set_materialize_grads(False)
        ctx.shape = (time, layers, hidden)
        ctx.products, ctx.source_dtype = products, source.dtype
        return _outputs(buf, ctx.shape, padding, last)

    @staticmethod
    def backward(ctx, grad_output, grad_h_n):
        if torch.is_grad_enabled() or batched_gradients(grad_output, grad_h_n):
            return _differentiable_backward(ctx, grad_output, grad_h_n)  # or under vmap
        _, h0, _, padding, last, buf, weight, w_in, inputs_in = ctx.saved_tensors[:9]
        time, layers, hidden = ctx.shape
        grad_rows = workspace.buffer("grad_rows", buf.shape, buf.dtype).zero_()  # outputs' grad
        if grad_output is not None:  # copied once whatever its strides (batch first too)
            top = _layer_rows(grad_rows, layers - 1, time, hidden)
            top.view(grad_output.shape).copy_(grad_output)
            if padding is not None:
                top.index_fill_(0, padding, 0.0)
        if grad_h_n is not None:
            for layer in range(layers):
                _layer_rows(grad_rows, layer, time, hidden).index_add_(0, last, grad_h_n[layer])
        steps = buf.shape[0] - 1
        # dz[s]: the pre-activation gradient of row s + 1, written over its slope 1 - h^2 (no
        # second (S, B, L*H) buffer: fresh pages cost a fault each on this first write)
        dz = workspace.buffer("dz", buf[1:].shape, buf.dtype)
        torch.addcmul(torch.ones((), dtype=buf.dtype), buf[1:], buf[1:], value=-1.0, out=dz)
        grad_h0 = torch.empty_like(h0)
        weight_t = weight.t()
        grads, slopes = grad_rows.unbind(0), dz.unbind(0)
        for s in range(steps, 0, -1):
            grad, slope = grads[s], slopes[s - 1]  # grad complete: row s + 1's dz is in
            slope.mul_(grad)
            if s < layers:  # row s's slot s is layer s's initial state, not computed
                grad_h0[s] = grad[:, s * hidden : (s + 1) * hidden]
                slope[:, s * hidden : (s + 1) * hidden] = 0.0
            grads[s - 1].addmm_(slope, weight_t)
        grad_h0[0] = grad_rows[0, :, :hidden]
        flat = dz.view(steps * buf.shape[1], layers, hidden)
        inputs = buf[:steps].reshape(flat.shape)  # each row's inputs: the row before it
        wanted = ctx.needs_input_grad[7:]  # frozen weights (a frozen stack): no product
        dz_low, inputs_low = flat, inputs
        if ctx.products is not None:  # cast once each, into reused buffers
            dz_low = workspace.buffer("dz_products", flat.shape, ctx.products).copy_(flat)
            inputs_low = workspace.buffer("rows_products", flat.shape, ctx.products).copy_(inputs)

        def gradient(k: int, source: int) -> Tensor:  # dz_k^T h_source, in the weights' dtype
            return (dz_low[:, k].t() @ inputs_low[:, source]).to(flat.dtype)

        grad_hh = [gradient(k, k) if wanted[k] else None for k in range(layers)]
        grad_ih = [gradient(k, k - 1) if wanted[layers + k - 1] else None for k in range(1, layers)]
        grad_source = grad_w_in = None
        if w_in is None:
            grad_source = dz[:time, :, :hidden].to(ctx.source_dtype)
        else:  # layer 0's dz over its T*B rows (strided), in the products' dtype
            dz_in = dz_low[: time * buf.shape[1], 0]
            if ctx.needs_input_grad[0]:
                grad_source = (dz_in @ w_in.to(dz_in.dtype)).to(ctx.source_dtype)
                grad_source = grad_source.view(time, buf.shape[1], -1)
            if ctx.needs_input_grad[6]:
                grad_w_in = (dz_in.t() @ inputs_in.view(dz_in.shape[0], -1)).to(w_in.dtype)
        return (grad_source, grad_h0, flat.sum(0).view(-1), None, None, None, grad_w_in,
                *grad_hh, *grad_ih)  # fmt: skip


def _differentiable_backward(ctx, grad_output: Tensor | None, grad_h_n: Tensor | None):
    """The gradients as a graph (create_graph=True), or of vmap's batched gradients
    (:func:`rnnkit.nn.checks.batched_gradients`): the forward again, in torch ops."""
    create_graph = torch.is_grad_enabled()
    source, h0, bias, padding, last = ctx.saved_tensors[:5]
    w_in = ctx.saved_tensors[7]
    weights = ctx.saved_tensors[9:]
    layers = h0.shape[0]
    inputs = (source, h0, bias, None, None, None, w_in, *weights)
    wanted = [i for i, need in enumerate(ctx.needs_input_grad) if need]
    with torch.enable_grad():
        projected = source if w_in is None else torch.nn.functional.linear(source, w_in)
        terms = _additive(projected, bias, layers)
        weight = _block_weight(weights[layers:], weights[:layers])
        outputs = _outputs(_steps(terms, h0, weight), ctx.shape, padding, last)
        pairs = [(o, g) for o, g in zip(outputs, (grad_output, grad_h_n), strict=True) if g is not None]
        grads = torch.autograd.grad(
            [o for o, _ in pairs], [inputs[i] for i in wanted], [g for _, g in pairs],
            create_graph=create_graph, allow_unused=True,
        )  # fmt: skip
    result: list[Tensor | None] = [None] * len(inputs)
    for i, g in zip(wanted, grads, strict=True):
        result[i] = None if g is None else g.contiguous()
    return tuple(result)
