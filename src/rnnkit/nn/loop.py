"""The loop path of the recurrent layers: rnnkit's own time loop over the cells' equations.

Dimensions: T time, B batch, D input features, H hidden units, H_out = proj_size or H,
G gates, dirs = 2 if bidirectional else 1.

The input projections of all T steps are one matrix product before the loop, so each step
costs one (B, H_out) x (H_out, G*H) product plus elementwise gates. In training, each layer
direction is one autograd node whose backward is written by hand (:mod:`rnnkit.nn.bptt`);
layer normalisation, user cells and inference (grad mode off, nothing to save) run the step
functions of :mod:`rnnkit.nn.cells` instead. It serves the options torch.nn lacks:
``recurrent_dropout``, ``layer_norm`` and ``cell``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.nn import bptt, cells
from rnnkit.nn.sequence import reverse_padded, step_mask, zero_padding

State = Tensor | tuple[Tensor, Tensor]
StepFn = Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]]


class LoopPath(nn.Module):
    """The time loop over layers and directions (mixed into the layers)."""

    num_layers: int
    num_directions: int
    output_size: int
    has_cell_state: bool
    recurrent_bias_apart: bool  # GRU: b_hh sits inside r * (W_hn h + b_hn), not beside b_ih
    user_cell: bool
    layer_norm: bool
    dropout: float
    recurrent_dropout: float
    kind: str
    _all_weights: list[list[str]]

    def _loop(
        self, x: Tensor, hx: State, lengths: Tensor | None, weights: list[Tensor]
    ) -> tuple[Tensor, State]:
        """x: (T, B, D) -> output (T, B, dirs*H_out) and the final state (stacked per layer).

        weights: the flat weights (``_flat_weights``, read once by the caller; [] for user cells).
        """
        flat = iter(weights)
        groups = [{n: next(flat) for n in names} for names in self._all_weights]
        states = hx if isinstance(hx, tuple) else (hx,)
        time = x.shape[0]
        mask = None if lengths is None else step_mask(lengths, time, x.device)
        if mask is not None:  # padding that is inf or nan would reach the gradients
            x = zero_padding(x, mask)
        finals: list[tuple[Tensor, ...]] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                source = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
                out, final = self._run_direction(
                    index, source, tuple(s[index] for s in states), mask,
                    groups[index] if groups else {},
                )  # fmt: skip
                outputs.append(out if direction == 0 else reverse_padded(out, lengths))
                finals.append(final)
            layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        stacked = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        return layer_input, (stacked if self.has_cell_state else stacked[0])

    @staticmethod
    def _run_steps(
        step: tuple[Tensor, StepFn], state: tuple[Tensor, ...], mask: Tensor | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Apply one direction's step T times.  Padded steps (mask False) keep the state."""
        inputs, step_fn = step
        outputs = []
        for t in range(inputs.shape[0]):
            new_state = step_fn(inputs[t], state)
            if mask is not None:
                new_state = tuple(
                    torch.where(mask[t], n, s) for n, s in zip(new_state, state, strict=True)
                )
            state = new_state
            outputs.append(state[0])
        output = torch.stack(outputs)
        if mask is not None:
            output = zero_padding(output, mask)
        return output, state

    def _recurrent_mask(self, batch: int, like: Tensor) -> Tensor | None:
        """Variational dropout mask (B, H_out), scaled by 1/(1-p); None outside training."""
        if not (self.recurrent_dropout and self.training):
            return None
        keep = 1.0 - self.recurrent_dropout
        return like.new_empty(batch, self.output_size).bernoulli_(keep) / keep

    def _norm(self, name: str, suffix: str) -> cells.Norm:
        if not self.layer_norm:
            return None
        return getattr(self, f"{name}_weight{suffix}"), getattr(self, f"{name}_bias{suffix}")

    def _run_direction(
        self, index: int, x: Tensor, state: tuple[Tensor, ...], mask: Tensor | None,
        named: dict[str, Tensor],
    ) -> tuple[Tensor, tuple[Tensor, ...]]:  # fmt: skip
        """One layer direction (layer * dirs + direction = index) over its input.

        x: (T, B, D), already reversed for the reverse direction; state: (h_0[, c_0]);
        mask: (T, B, 1) or None; named: this direction's weights by full name
        (``weight_ih_l0_reverse``...). Returns the outputs (T, B, H_out) and the final state.
        """
        if self.user_cell:
            step = partial(_user_cell_step, self.cells[index], self.has_cell_state)
            return self._run_steps((x, step), state, mask)
        h_mask = self._recurrent_mask(x.shape[1], x)
        suffix = next(iter(named))[len("weight_ih") :]
        weight = {name[: len(name) - len(suffix)]: w for name, w in named.items()}
        bias_apart = self.recurrent_bias_apart
        folded = weight.get("bias_ih")
        if folded is not None and not bias_apart:  # b_ih + b_hh add to one pre-activation
            folded = folded + weight["bias_hh"]
        gi = cells.input_projection(x, weight["weight_ih"], folded, self._norm("ln_ih", suffix))
        bias_hh = weight.get("bias_hh") if bias_apart else None  # else folded into gi
        if self.layer_norm or not torch.is_grad_enabled():  # nothing to save for a backward
            step = self._step_function(weight, bias_hh, suffix, h_mask)
            return self._run_steps((gi, step), state, mask)
        return bptt.run(
            self.kind, gi, state, weight["weight_hh"], bias_hh, weight.get("weight_hr"),
            mask, h_mask,
        )  # fmt: skip

    def _step_function(
        self, weight: dict[str, Tensor], bias_hh: Tensor | None, suffix: str, h_mask: Tensor | None
    ) -> StepFn:
        """The cells' step function for this kind: (gi_t (B, G*H), state) -> new state."""
        w_hh, norm_hh = weight["weight_hh"], self._norm("ln_hh", suffix)
        if self.kind == "lstm":
            w_hr, norm_c = weight.get("weight_hr"), self._norm("ln_c", suffix)
            return lambda gi_t, s: cells.lstm_step(
                gi_t, s[0], s[1], w_hh, None, w_hr, norm_hh, norm_c, h_mask
            )
        if self.kind == "gru":
            return lambda gi_t, s: (cells.gru_step(gi_t, s[0], w_hh, bias_hh, norm_hh, h_mask),)
        nonlinearity = self.kind[len("rnn_") :]
        return lambda gi_t, s: (
            cells.simple_rnn_step(gi_t, s[0], w_hh, None, nonlinearity, norm_hh, h_mask),
        )


def _user_cell_step(
    module: nn.Module, has_cell_state: bool, x_t: Tensor, state: tuple[Tensor, ...]
) -> tuple[Tensor, ...]:
    """Call a user cell as torch's cells are called: module(x_t, h) or module(x_t, (h, c))."""
    if has_cell_state:
        h_next, c_next = module(x_t, (state[0], state[1]))
        return h_next, c_next
    return (module(x_t, state[0]),)
