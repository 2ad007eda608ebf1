"""The loop path's time loop with backpropagation through time written by hand.

Dimensions: T time, B batch, H hidden units, P = proj_size (LSTM), H_out = P or H,
G gates (1 SimpleRNN, 4 LSTM, 3 GRU). The kind key ``"rnn_tanh" | "rnn_relu" | "lstm" | "gru"``
is the same string as the layers' ``kind`` and :mod:`rnnkit.nn.fused`'s kernel table.

One layer direction runs as ONE autograd node (:class:`_Recurrence`), as in
jcjohnson/torch-rnn: the forward pass applies the cells' gate equations
(:func:`rnnkit.nn.cells.lstm_pointwise` and friends) step by step without recording a graph,
and keeps their activations; the backward pass walks the steps in reverse applying the
derivatives written beside each cell below (:class:`SimpleRNNSteps`, :class:`LSTMSteps`,
:class:`GRUSteps`: one ``forward`` and one ``backward`` per kind). Recording each step's dozen
small operations for autograd would cost more than the arithmetic at the sizes RNNs train at.
The weight gradients are one (G*H, T*B) x (T*B, H_out) product after the loop, not T small ones.

Shared by every kind (:class:`_Recurrence`): the recurrent input is x_t = h_{t-1} * mask_h
(recurrent dropout, or h_{t-1} itself), so dh_{t-1} = (d_rec W_hh) * mask_h + the direct
gradient the kind returns; a padded step (lengths mask False) keeps the state, so its
gradient passes straight to the step before.

Memory kept per time step, in floats per sequence (the same equations under autograd would
keep the inputs or outputs of each of their dozen operations per step instead):

    SimpleRNN  H_out (x_t) + H (h_t)                                 + G*H for gi
    LSTM       H_out (x_t) + 5H (i, f, g, o, tanh c_t) + H (c_{t-1}) [+ H (m_t) with proj_size]
               + G*H for gi
    GRU        H (x_t) + 4H (r, z, n, W_hn h + b_hn) + H (h_{t-1})   + G*H for gi

gi (the input projections, an input of the node) is kept alive for the second-order path:
when a backward runs with ``create_graph=True`` (grad mode is on inside ``backward`` exactly
then) the node replays its steps with recording autograd ops and differentiates that replay,
so second derivatives (gradient penalties, ``gradgradcheck``) are exact, never zero.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx

from rnnkit.nn import cells, precision
from rnnkit.nn.checks import batched_gradients
from rnnkit.nn.sequence import zero_padding

State = tuple[Tensor, ...]  # (h,) or (h, c)


def affine(bias: Tensor | None, x: Tensor, w: Tensor) -> Tensor:
    """bias + x @ w in x's dtype (float32).  w: (K, N) in float32, or in bf16 when the loop's
    products run in bf16 (then x (M, K) is rounded to bf16 and the product comes back float32);
    bias: (M, N), (N,) or None."""
    if w.dtype == x.dtype:
        return torch.mm(x, w) if bias is None else torch.addmm(bias, x, w)
    product = torch.mm(x.to(w.dtype), w).to(x.dtype)
    return product if bias is None else product.add_(bias)


class SimpleRNNSteps:
    """h_t = f(a_t),  a_t = gi_t + W_hh x_t,  f = tanh or relu.

    Backward:  da = dh * (1 - h_t^2)  (tanh)  or  dh * [h_t > 0]  (relu);  the same da on the
    input and recurrent sides; h_{t-1} is reached only through W_hh.
    """

    def __init__(self, nonlinearity: str) -> None:
        self.nonlinearity = nonlinearity

    def forward(
        self, gi_t: Tensor, x: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> tuple[State, tuple[Tensor, ...]]:  # fmt: skip
        """gi_t: (B, H); x: (B, H) = h_{t-1} * mask_h; w_hh_t: (H, H) = W_hh^T.
        Returns (h_t,) and what backward needs: (h_t,)."""
        h = cells.simple_rnn_pointwise(affine(gi_t, x, w_hh_t), self.nonlinearity)
        return (h,), (h,)

    def backward(
        self, saved: list[Tensor], d_new: State, w_hr: Tensor | None,
        d_in: Tensor, d_rec: Tensor,
    ) -> tuple[tuple[Tensor | None, ...], Tensor | None]:  # fmt: skip
        """Write da into d_in (= d_rec); return no direct state gradient and no d(projection)."""
        (h,) = saved
        slope = 1 - h * h if self.nonlinearity == "tanh" else (h > 0).to(h.dtype)
        torch.mul(d_new[0], slope, out=d_in)
        return (None,), None


class LSTMSteps:
    """Gates i, f, g, o (torch.nn.LSTM's order), see :func:`rnnkit.nn.cells.lstm_step`::

        [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](gi_t + W_hh x_t)
        c_t = f * c_{t-1} + i * g;   m_t = o * tanh(c_t);   h_t = m_t  or  W_hr m_t (proj_size)

    Backward, with dh reaching h_t and dc reaching c_t:
        dm = dh  (W_hr^T dh with a projection;  dW_hr += dh^T m_t)
        do = dm * tanh(c_t);   dc += dm * o * (1 - tanh(c_t)^2)
        di = dc * g;   df = dc * c_{t-1};   dg = dc * i;   dc_{t-1} = dc * f
        da = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)]   (input and recurrent side alike)
    """

    def forward(
        self, gi_t: Tensor, x: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> tuple[State, tuple[Tensor, ...]]:  # fmt: skip
        """gi_t: (B, 4H); x: (B, H_out); state (h, c). Returns (h_t, c_t) and
        (acts (B, 5H), c_{t-1}[, m_t])."""
        c = state[1]
        m, c_new, acts = cells.lstm_pointwise(affine(gi_t, x, w_hh_t), c)
        saved = (torch.cat(acts, dim=-1), c)
        if w_hr is None:
            return (m, c_new), saved
        return (torch.mm(m, w_hr.t()), c_new), (*saved, m)

    def backward(
        self, saved: list[Tensor], d_new: State, w_hr: Tensor | None,
        d_in: Tensor, d_rec: Tensor,
    ) -> tuple[tuple[Tensor | None, ...], Tensor | None]:  # fmt: skip
        """Write da into d_in (= d_rec); return (None, dc_{t-1}) and dm (projection) or None."""
        acts, c_prev = saved[0], saved[1]
        dh, dc = d_new
        d_proj = None
        if w_hr is not None:
            d_proj, dh = dh, torch.mm(dh, w_hr)
        i, f, g, o, tanh_c = acts.chunk(5, dim=-1)
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        torch.cat(
            [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
             dh * tanh_c * o * (1 - o)],
            dim=-1, out=d_in,
        )  # fmt: skip
        return (None, dc * f), d_proj


class GRUSteps:
    """Gates r, z, n (torch.nn.GRU's order), see :func:`rnnkit.nn.cells.gru_step`::

        r = sigmoid(gi_r + W_hr x + b_hr);   z = sigmoid(gi_z + W_hz x + b_hz)
        n = tanh(gi_n + r * (W_hn x + b_hn));   h_t = (1 - z) * n + z * h_{t-1}

    Backward, with dh reaching h_t:
        dz = dh * (h_{t-1} - n);   dn = dh * (1 - z);   dh_{t-1} = dh * z  (+ through W_hh)
        da_n = dn * (1 - n^2);   da_r = da_n * (W_hn x + b_hn) * r(1-r);   da_z = dz z(1-z)
        input side [da_r, da_z, da_n];   recurrent side [da_r, da_z, da_n * r]
    """

    def forward(
        self, gi_t: Tensor, x: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> tuple[State, tuple[Tensor, ...]]:  # fmt: skip
        """gi_t: (B, 3H) (without b_hh); x: (B, H). Returns (h_t,) and (acts (B, 4H), h_{t-1})."""
        h = state[0]
        gh = affine(b_hh, x, w_hh_t)
        h_new, acts = cells.gru_pointwise(gi_t, gh, h)
        return (h_new,), (torch.cat(acts, dim=-1), h)

    def backward(
        self, saved: list[Tensor], d_new: State, w_hr: Tensor | None,
        d_in: Tensor, d_rec: Tensor,
    ) -> tuple[tuple[Tensor | None, ...], Tensor | None]:  # fmt: skip
        """Write the input-side da into d_in and the recurrent-side one into d_rec;
        return (dh * z,) (the direct path to h_{t-1}) and no d(projection)."""
        acts, h_prev = saved
        (dh,) = d_new
        r, z, n, gh_n = acts.chunk(4, dim=-1)
        da_n = dh * (1 - z) * (1 - n * n)
        da_r = da_n * gh_n * r * (1 - r)
        da_z = dh * (h_prev - n) * z * (1 - z)
        torch.cat([da_r, da_z, da_n], dim=-1, out=d_in)
        torch.cat([da_r, da_z, da_n * r], dim=-1, out=d_rec)
        return (dh * z,), None


Steps = SimpleRNNSteps | LSTMSteps | GRUSteps
STEPS: dict[str, Steps] = {
    "rnn_tanh": SimpleRNNSteps("tanh"),
    "rnn_relu": SimpleRNNSteps("relu"),
    "lstm": LSTMSteps(),
    "gru": GRUSteps(),
}


def run(
    kind: str,
    gi: Tensor,
    state: State,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    weight_hr: Tensor | None,
    mask: Tensor | None,
    h_mask: Tensor | None,
) -> tuple[Tensor, State]:
    """Run one layer direction over its projected inputs; gradients flow to every tensor.

    gi: (T, B, G*H) input projections W_ih x_t + b_ih (+ b_hh for SimpleRNN and LSTM, whose
    recurrent bias adds to the same pre-activation; pass bias_hh only for GRU);
    state: (h_0,) or (h_0, c_0), h_0 (B, H_out), c_0 (B, H); weight_hh: (G*H, H_out);
    weight_hr: (P, H) or None; mask: (T, B, 1) bool, True at real steps, or None;
    h_mask: (B, H_out) recurrent-dropout mask applied to h_{t-1} where it meets W_hh, or None.

    Returns the outputs (T, B, H_out), zero at padded steps, and the final state.
    Under autocast (float64 aside) the state and the gate arithmetic stay float32 (the result
    is float32; the layer casts it to torch.nn's dtype);
    the recurrent matrix products run in bf16 under CPU bf16 autocast where
    :func:`rnnkit.nn.precision.bf16_matmul` measured that faster here, else in float32.
    """
    device = gi.device.type
    c0 = state[1] if len(state) > 1 else None
    inputs = [gi, state[0], c0, weight_hh, bias_hh, weight_hr]
    matmul_dtype = weight_hh.dtype
    if precision.autocast_enabled(device) and weight_hh.dtype != torch.float64:  # f64 stays
        inputs = [t if t is None else t.float() for t in inputs]
        h_mask = None if h_mask is None else h_mask.float()
        bf16 = _bf16_products(device, kind, weight_hh.shape[1])
        matmul_dtype = torch.bfloat16 if bf16 else torch.float32
    with precision.autocast_disabled(device):
        outputs = _Recurrence.apply(kind, *inputs, mask, h_mask, matmul_dtype)
    return outputs[0], tuple(outputs[1:])


def _bf16_products(device: str, kind: str, hidden: int) -> bool:
    """Under autocast: should the recurrent products run in bf16 (CPU bf16 autocast, measured)?"""
    return (
        device == "cpu"
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and precision.bf16_matmul(kind, hidden)
    )


def _steps(
    kind: str, gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None, w_hr: Tensor | None,
    mask: Tensor | None, h_mask: Tensor | None, matmul_dtype: torch.dtype,
) -> tuple[Tensor, State, list[tuple[Tensor, ...]]]:  # fmt: skip
    """The time loop: outputs (T, B, H_out) zero at padded steps, final state, and per step
    (x_t, *what the kind's backward needs). Pure torch ops: under grad mode it records a graph.
    ``matmul_dtype``: the dtype W_hh x_t is computed in (the weights', or bf16 for speed)."""
    steps, w_hh_t = STEPS[kind], w_hh.t().to(matmul_dtype)
    outputs, saved = [], []
    for t in range(gi.shape[0]):
        h = state[0]
        x = h if h_mask is None else h * h_mask  # (B, H_out), what meets W_hh
        new_state, kept = steps.forward(gi[t], x, state, w_hh_t, b_hh, w_hr)
        saved.append((x, *kept))
        if mask is not None:
            new_state = tuple(torch.where(mask[t], n, s) for n, s in zip(new_state, state, strict=True))
        state = new_state
        outputs.append(state[0])
    out = torch.stack(outputs)
    if mask is not None:
        out = zero_padding(out, mask)
    return out, state, saved


class _Recurrence(torch.autograd.Function):
    """One layer direction as one autograd node; see the module docstring."""

    SECOND_ORDER_INPUTS: ClassVar[tuple[int, ...]] = (1, 2, 3, 4, 5, 6)  # gi .. w_hr in apply

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        kind: str,
        gi: Tensor,
        h0: Tensor,
        c0: Tensor | None,
        w_hh: Tensor,
        b_hh: Tensor | None,
        w_hr: Tensor | None,
        mask: Tensor | None,
        h_mask: Tensor | None,
        matmul_dtype: torch.dtype,
    ) -> tuple[Tensor, ...]:
        state = (h0,) if c0 is None else (h0, c0)
        out, final, saved = _steps(kind, gi, state, w_hh, b_hh, w_hr, mask, h_mask, matmul_dtype)
        stacked = [torch.stack(slot) for slot in zip(*saved, strict=True)]  # (T, B, ...) per slot
        ctx.save_for_backward(gi, h0, c0, w_hh, b_hh, w_hr, mask, h_mask, *stacked)
        ctx.kind, ctx.matmul_dtype = kind, matmul_dtype
        return (out, *final)

    @staticmethod
    def backward(ctx: FunctionCtx, d_out: Tensor, *d_final: Tensor):  # type: ignore[override]
        if torch.is_grad_enabled() or batched_gradients(d_out, *d_final):
            return _replayed_backward(ctx, d_out, d_final)  # create_graph=True, or under vmap
        gi, _, c0, w_hh, b_hh, w_hr, mask, h_mask, h_in, *per_step = ctx.saved_tensors
        steps, w_hh_low = STEPS[ctx.kind], w_hh.to(ctx.matmul_dtype)
        d_in = torch.empty_like(gi)  # (T, B, G*H), input side
        d_rec = d_in if isinstance(steps, (SimpleRNNSteps, LSTMSteps)) else torch.empty_like(gi)
        d_proj = torch.empty_like(h_in) if w_hr is not None else None  # (T, B, P)
        d_state = d_final  # grads are materialised: zeros where an output was not used
        for t in range(gi.shape[0] - 1, -1, -1):
            d_new = (d_state[0] + d_out[t], *d_state[1:])  # reaching the state step t made
            if mask is not None:  # a padded step passes d_state (d_out[t] is zero there) by
                real = mask[t]
                d_keep = [d * ~real for d in d_state]
                d_new = tuple(d * real for d in d_new)
            direct, d_m = steps.backward(
                [s[t] for s in per_step], d_new, w_hr, d_in[t], d_rec[t]
            )
            if d_proj is not None:
                d_proj[t] = d_m
            d_h = affine(None, d_rec[t], w_hh_low)  # (B, H_out): reaching h_{t-1} through W_hh
            if h_mask is not None:
                d_h = d_h * h_mask
            if direct[0] is not None:
                d_h = d_h + direct[0]
            d_state = (d_h, *direct[1:])
            if mask is not None:
                d_state = tuple(d + k for d, k in zip(d_state, d_keep, strict=True))
        flat = d_rec.flatten(0, 1)  # (T*B, G*H)
        d_w_hh = affine(None, flat.t(), h_in.flatten(0, 1).to(ctx.matmul_dtype))
        d_b_hh = flat.sum(0) if b_hh is not None else None
        d_w_hr = None
        if d_proj is not None:
            d_w_hr = torch.mm(d_proj.flatten(0, 1).t(), per_step[-1].flatten(0, 1))
        d_c0 = d_state[1] if c0 is not None else None
        return None, d_in, d_state[0], d_c0, d_w_hh, d_b_hh, d_w_hr, None, None, None


def _replayed_backward(
    ctx: FunctionCtx, d_out: Tensor, d_final: tuple[Tensor, ...]
) -> tuple[Tensor | None, ...]:
    """Backward by replaying the steps recording a graph and differentiating it: for
    ``create_graph=True``, and for vmap's batched gradients (which the hand-written backward's
    writes into buffers cannot take: :func:`rnnkit.nn.checks.batched_gradients`).

    Under create_graph the result is itself differentiable in gi, h_0, c_0 and the weights
    (and in the incoming gradients), so a second backward sees the true second derivatives.
    """
    create_graph = torch.is_grad_enabled()
    gi, h0, c0, w_hh, b_hh, w_hr, mask, h_mask = ctx.saved_tensors[:8]
    inputs = (gi, h0, c0, w_hh, b_hh, w_hr)
    wanted = [
        i for i, t in enumerate(inputs)
        if t is not None and ctx.needs_input_grad[_Recurrence.SECOND_ORDER_INPUTS[i]]
    ]  # fmt: skip
    state = (h0,) if c0 is None else (h0, c0)
    with torch.enable_grad():
        out, final, _ = _steps(
            ctx.kind, gi, state, w_hh, b_hh, w_hr, mask, h_mask, ctx.matmul_dtype
        )
        grads = torch.autograd.grad(
            (out, *final), [inputs[i] for i in wanted], (d_out, *d_final),
            create_graph=create_graph, allow_unused=True,
        )  # fmt: skip
    result: list[Tensor | None] = [None] * len(inputs)
    for i, g in zip(wanted, grads, strict=True):
        result[i] = g if g is not None else torch.zeros_like(inputs[i])
    return (None, *result, None, None, None)
