"""The loop path's time loop with backpropagation through time written by hand.

Dimensions: T time, B batch, H hidden units, P = proj_size (LSTM), H_out = P or H,
G gates (1 SimpleRNN, 4 LSTM, 3 GRU).

One layer direction runs as ONE autograd node (:class:`_Recurrence`), as in
jcjohnson/torch-rnn: the forward pass applies the cells' gate equations
(:func:`rnnkit.nn.cells.lstm_pointwise` and friends) step by step without recording a graph,
and keeps their activations; the backward pass walks the steps in reverse applying the
derivatives below. Recording each step's dozen small operations for autograd would cost more
than the arithmetic at the sizes RNNs train at, which is why a Python loop of torch.nn cells
(one C++ call per step) otherwise beats a Python loop of equations. The weight gradients are
one (G*H, T*B) x (T*B, H_out) product after the loop, not T small ones.

Derivatives, with dh the gradient reaching a step's new h and dc its new c (LSTM)::

    SimpleRNN  da = dh * (1 - h_t^2)  (tanh)  or  dh * [h_t > 0]  (relu)
    LSTM       dm = dh (W_hr^T dh with a projection);   m_t = o * tanh(c_t)
               do = dm * tanh(c_t);   dc += dm * o * (1 - tanh(c_t)^2)
               di = dc * g;   df = dc * c_{t-1};   dg = dc * i;   dc_{t-1} = dc * f
               da = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)]
    GRU        dz = dh * (h_{t-1} - n);   dn = dh * (1 - z);   dh_{t-1} = dh * z
               da_n = dn * (1 - n^2);   da_r = da_n * (W_hn h + b_hn) * r(1-r);   da_z = dz z(1-z)
               input side [da_r, da_z, da_n];   recurrent side [da_r, da_z, da_n * r]

and everywhere dh_{t-1} += (da_recurrent W_hh) * recurrent-dropout mask. A padded step
(mask False) keeps the state: its gradient passes straight to the step before.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnnkit.nn import cells

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")


def run(
    kind: str,
    gi: Tensor,
    state: tuple[Tensor, ...],
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    weight_hr: Tensor | None,
    mask: Tensor | None,
    h_mask: Tensor | None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one layer direction over its projected inputs; gradients flow to every tensor.

    gi: (T, B, G*H) input projections W_ih x_t + b_ih (+ b_hh for SimpleRNN and LSTM, whose
    recurrent bias adds to the same pre-activation; pass bias_hh only for GRU);
    state: (h_0,) or (h_0, c_0), h_0 (B, H_out), c_0 (B, H); weight_hh: (G*H, H_out);
    weight_hr: (P, H) or None; mask: (T, B, 1) bool, True at real steps, or None;
    h_mask: (B, H_out) recurrent-dropout mask applied to h_{t-1} where it meets W_hh, or None.

    Returns the outputs (T, B, H_out), zero at padded steps, and the final state.
    Under autocast it runs in float32 (like the fused CPU kernels), returning float32.
    """
    device = gi.device.type
    inputs = [gi, *state, *([None] if kind != "lstm" else []), weight_hh, bias_hh, weight_hr]
    if torch.is_autocast_enabled(device):
        inputs = [t if t is None else t.float() for t in inputs]
        h_mask = None if h_mask is None else h_mask.float()
    with torch.autocast(device, enabled=False):
        outputs = _Recurrence.apply(kind, *inputs, mask, h_mask)
    return outputs[0], tuple(outputs[1:])


class _Recurrence(torch.autograd.Function):
    """One layer direction as one autograd node; see the module docstring."""

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
    ) -> tuple[Tensor, ...]:
        w_hh_t = w_hh.t()
        h, c = h0, c0
        h_in, cell_in, projected, outputs, acts = [], [], [], [], []
        for t in range(gi.shape[0]):
            x = h if h_mask is None else h * h_mask  # (B, H_out), what meets W_hh
            h_in.append(x)
            if kind in ("lstm", "gru"):  # the old state the gate equations read
                cell_in.append(h if kind == "gru" else c)
            if kind == "lstm":
                m, c_new, step_acts = cells.lstm_pointwise(torch.addmm(gi[t], x, w_hh_t), c)
                projected.append(m)
                h_new = m if w_hr is None else torch.mm(m, w_hr.t())
            elif kind == "gru":
                gh = torch.mm(x, w_hh_t) if b_hh is None else torch.addmm(b_hh, x, w_hh_t)
                h_new, step_acts = cells.gru_pointwise(gi[t], gh, h)
            else:
                h_new = cells.simple_rnn_pointwise(torch.addmm(gi[t], x, w_hh_t), kind[4:])
                step_acts = (h_new,)
            acts.append(step_acts[0] if len(step_acts) == 1 else torch.cat(step_acts, dim=-1))
            if mask is not None:
                h_new = torch.where(mask[t], h_new, h)
                if kind == "lstm":
                    c_new = torch.where(mask[t], c_new, c)
            h = h_new
            if kind == "lstm":
                c = c_new
            outputs.append(h)
        out = torch.stack(outputs)  # (T, B, H_out)
        if mask is not None:
            out = out.masked_fill(~mask, 0.0)
        stacked = [torch.stack(v) for v in (h_in, acts, cell_in) if v]
        if kind == "lstm" and w_hr is not None:
            stacked.append(torch.stack(projected))  # m_t, for W_hr's gradient
        ctx.save_for_backward(w_hh, w_hr, mask, h_mask, *stacked)
        ctx.kind, ctx.has_b_hh = kind, b_hh is not None
        return (out, h, c) if kind == "lstm" else (out, h)

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_out: Tensor, d_h: Tensor, d_c: Tensor | None = None):  # type: ignore[override]
        w_hh, w_hr, mask, h_mask, h_in, acts, *rest = ctx.saved_tensors
        kind = ctx.kind
        cell_in = rest.pop(0) if kind in ("lstm", "gru") else None
        steps, hidden = acts.shape[0], w_hh.shape[0] // {"lstm": 4, "gru": 3}.get(kind, 1)
        d_in = torch.empty(
            steps, *acts.shape[1:-1], w_hh.shape[0], dtype=acts.dtype, device=acts.device
        )
        d_rec = d_in if kind != "gru" else torch.empty_like(d_in)  # recurrent-side gradients
        d_proj = torch.empty_like(h_in) if rest else None
        dh, dc = d_h, d_c  # grads are materialised: zeros where an output was not used
        for t in range(steps - 1, -1, -1):
            dh_new, dc_new = dh + d_out[t], dc  # reaching the state this step produced
            dh_keep = dc_keep = None  # reaching the state before it directly (padded steps)
            if mask is not None:
                real = mask[t]
                dh_new, dh_keep = dh_new * real, dh * ~real
                if kind == "lstm":
                    dc_new, dc_keep = dc * real, dc * ~real
            if kind == "lstm":
                if d_proj is not None:
                    d_proj[t] = dh_new
                    dh_new = torch.mm(dh_new, w_hr)
                i, f, g, o, tanh_c = acts[t].split(hidden, dim=-1)
                dc_new = dc_new + dh_new * o * (1 - tanh_c * tanh_c)
                torch.cat(
                    [dc_new * g * i * (1 - i), dc_new * cell_in[t] * f * (1 - f),
                     dc_new * i * (1 - g * g), dh_new * tanh_c * o * (1 - o)],
                    dim=-1, out=d_in[t],
                )  # fmt: skip
                dc = dc_new * f if dc_keep is None else dc_new * f + dc_keep
                dh = None
            elif kind == "gru":
                r, z, n, gh_n = acts[t].split(hidden, dim=-1)
                da_n = dh_new * (1 - z) * (1 - n * n)
                da_r = da_n * gh_n * r * (1 - r)
                da_z = dh_new * (cell_in[t] - n) * z * (1 - z)
                torch.cat([da_r, da_z, da_n], dim=-1, out=d_in[t])
                torch.cat([da_r, da_z, da_n * r], dim=-1, out=d_rec[t])
                dh = dh_new * z
            else:
                h_t = acts[t]
                slope = 1 - h_t * h_t if kind == "rnn_tanh" else (h_t > 0).to(h_t.dtype)
                torch.mul(dh_new, slope, out=d_in[t])
                dh = None
            d_x = torch.mm(d_rec[t], w_hh)  # (B, H_out): reaching h_{t-1} through W_hh
            if h_mask is not None:
                d_x = d_x * h_mask
            for extra in (dh, dh_keep):
                if extra is not None:
                    d_x = d_x + extra
            dh = d_x
        flat = d_rec.flatten(0, 1)  # (T*B, G*H)
        d_w_hh = torch.mm(flat.t(), h_in.flatten(0, 1))
        d_b_hh = flat.sum(0) if ctx.has_b_hh else None
        d_w_hr = None
        if d_proj is not None:
            d_w_hr = torch.mm(d_proj.flatten(0, 1).t(), rest[0].flatten(0, 1))
        return None, d_in, dh, dc, d_w_hh, d_b_hh, d_w_hr, None, None
