"""Recurrent layers RNN, LSTM and GRU: drop-in replacements for torch.nn's, plus options.

Each layer keeps torch.nn's parameters (``weight_ih_l0``, ``bias_hh_l1_reverse``,
``weight_hr_l0``), shapes, gate order and initialisation, so a torch.nn state_dict loads
unchanged and back; it raises the exception types torch.nn raises for the same bad arguments.
The parts: parameter layout (:mod:`rnnkit.nn.layout`), checks (:mod:`rnnkit.nn.checks`),
dispatch (:mod:`rnnkit.nn.dispatch`), the loop path (:mod:`rnnkit.nn.loop`, :mod:`rnnkit.nn.bptt`)
and torch's fused kernels (:mod:`rnnkit.nn.fused`). Differences from torch.nn, each deliberate:
docs/torch-differences.md.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.errors import invalid
from rnnkit.nn.dispatch import CellFactory, RecurrentLayer

_ARGS = """
    Args:
        input_size: D, the number of features of each input step x_t (an int > 0).
        hidden_size: H, the number of features of the hidden state h (an int > 0).
        num_layers: stacked layers; layer l > 0 reads the outputs of layer l - 1. Default: 1
        {nonlinearity}bias: if ``False``, no biases b_ih and b_hh (a bool). Default: ``True``
        batch_first: if ``True``, input and output are (B, T, feature) instead of
            (T, B, feature); states are not affected (a bool). Default: ``False``
        dropout: dropout on the outputs of each layer except the last, in [0, 1]. Default: 0
        bidirectional: if ``True``, each layer also runs the sequence backwards and concatenates
            both directions' outputs. Default: ``False``
        {proj}
    rnnkit's extras (keyword-only; they take the loop path, see below):
        recurrent_dropout: probability p in [0, 1) of a variational dropout mask on h_{{t-1}}
            where it meets W_hh: one mask per sequence, scaled by 1/(1-p) (Gal & Ghahramani
            2016). Training only; active, it sends training to the loop path. Default: 0
        layer_norm: layer-normalise the input and recurrent pre-activations W_ih x, W_hh h
            (before the biases){ln_c} (Ba et al. 2016); loop path always. Default: ``False``
        cell: a factory ``cell(input_size, hidden_size) -> module`` with torch's cell call
            signature ``module(x_t, {state}) -> {state}``, one per layer direction, replacing
            the built-in equations (no parameters of the layer's own); loop path. Default: None
        implementation: ``"auto"`` (fused kernels when they serve the options, the loop for a
            single time step), ``"fused"`` (refused when an option needs the loop) or
            ``"loop"``. ``last_path`` tells which ran. Default: ``"auto"``
        device, dtype: where and in which dtype to create the parameters.

    Inputs: input, hx, lengths
        * **input**: (T, B, D), or (B, T, D) with ``batch_first``, or (T, D) unbatched; or a
          :class:`torch.nn.utils.rnn.PackedSequence`.
        * **hx**: {hx_doc}; zeros if None.
        * **lengths** (rnnkit): (B,) ints in 1..T, the real length of each padded sequence
          (a padded batch only). Padded steps give zero outputs, and h_n is taken at each
          sequence's last real step (the reverse direction's at its first). Both paths.

    Outputs: output, {final}
        * **output**: (T, B, dirs * H_out) (``batch_first``: (B, T, dirs * H_out); unbatched:
          (T, dirs * H_out)): the last layer's h_t at every step, directions concatenated
          (forward first); a PackedSequence when the input was one.
        * {final_doc}

    where dirs = 2 if bidirectional else 1, {h_out}.

    Attributes (k = layer, suffix ``_reverse`` for the reverse direction):
        weight_ih_l[k]: ({g}H, D) for k = 0, else ({g}H, dirs * H_out); gates {gates}.
        weight_hh_l[k]: ({g}H, H_out).
        bias_ih_l[k], bias_hh_l[k]: ({g}H,) (with ``bias``).{attr_extra}
        ln_ih_weight_l[k], ln_ih_bias_l[k], ln_hh_weight_l[k], ln_hh_bias_l[k]: ({g}H,), with
            ``layer_norm``{ln_attr}; initialised to 1 and 0.
        All weights and biases are drawn from U(-sqrt(1/H), sqrt(1/H)), in torch.nn's order, so
        a seed gives torch.nn's initial weights. ``all_weights``, ``_flat_weights`` and
        ``_flat_weights_names`` list them as torch.nn's do; ``kind`` names the cell kind
        (``{kind}``), ``last_path`` the path of the last forward.

    Paths: ``"fused"`` runs torch's fused kernels (oneDNN on CPU, cuDNN on GPU) with these
    weights: what torch.nn runs, at its speed. ``"loop"`` runs rnnkit's time loop: the input
    projections of all steps in one product, then per step one (B, H_out) x (H_out, {g}H)
    product and the gate equations, with a hand-written backward (one autograd node per layer
    direction) in training; exact first and second derivatives on both paths.
"""


def _refuse(unsupported: dict[str, object], layer: str, positional_proj_size: object) -> None:
    """torch.nn.RNN/GRU refuse proj_size as a keyword (even 0) or a positional argument other
    than 0 (its place before device and dtype) with ValueError, other keywords TypeError."""
    if "proj_size" in unsupported or positional_proj_size != 0:
        raise invalid(
            "proj_size", unsupported.get("proj_size", positional_proj_size), "no proj_size"
            " (LSTM only: proj_size argument is only supported for LSTM, not RNN or GRU)",
        )  # fmt: skip
    if unsupported:
        raise TypeError(f"{layer} got unexpected keyword arguments {sorted(unsupported)}")


def _doc(summary: str, **parts: str) -> str:
    defaults = {
        "nonlinearity": "", "proj": "", "ln_c": "", "state": "h", "attr_extra": "", "ln_attr": "",
        "hx_doc": "h_0 (L * dirs, B, H) (unbatched: (L * dirs, H))",
        "final": "h_n",
        "final_doc": "**h_n**: (L * dirs, B, H) (unbatched: (L * dirs, H)), the final state of "
        "each layer and direction.",
        "h_out": "H_out = H",
    }  # fmt: skip
    return summary + _ARGS.format(**(defaults | parts))


class RNN(RecurrentLayer):
    kind = "rnn_tanh"

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
        bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
        bidirectional: bool = False, _proj_size: int = 0, device: torch.device | str | None = None,
        dtype: torch.dtype | None = None, *, recurrent_dropout: float = 0.0,
        layer_norm: bool = False, cell: CellFactory | None = None, implementation: str = "auto",
        **unsupported: object,
    ) -> None:  # fmt: skip
        _refuse(unsupported, "RNN", _proj_size)
        self.kind = f"rnn_{nonlinearity}"
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            nonlinearity=nonlinearity, recurrent_dropout=recurrent_dropout,
            layer_norm=layer_norm, cell=cell, implementation=implementation, device=device,
            dtype=dtype,
        )  # fmt: skip


RNN.__doc__ = _doc(
    """Elman RNN layers, torch.nn.RNN's drop-in replacement. For each step and layer::

        h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   f = tanh or relu

    x_t is the input at step t (layer l > 0: layer l-1's output h_t), h_{t-1} the layer's
    state at the step before (h_0 at t = 0).
""",
    nonlinearity="nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``\n        ",
    g="", gates="(one)", kind="rnn_tanh' or 'rnn_relu",
)


class LSTM(RecurrentLayer):
    kind = "lstm"
    num_gates = 4
    has_cell_state = True

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        proj_size: int = 0, device: torch.device | str | None = None,
        dtype: torch.dtype | None = None, *, recurrent_dropout: float = 0.0,
        layer_norm: bool = False, cell: CellFactory | None = None, implementation: str = "auto",
    ) -> None:  # fmt: skip
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            proj_size, recurrent_dropout=recurrent_dropout, layer_norm=layer_norm, cell=cell,
            implementation=implementation, device=device, dtype=dtype,
        )  # fmt: skip

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Tensor | None) -> tuple[int, int, int]:
        """(layers*directions, batch, H): c_0's size for ``input``, as torch.nn.LSTM's."""
        return (*self.get_expected_hidden_size(input, batch_sizes)[:2], self.hidden_size)


LSTM.__doc__ = _doc(
    """LSTM layers, torch.nn.LSTM's drop-in replacement. For each step and layer::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate
        g_t = tanh   (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate cell
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)          (proj_size > 0: h_t = W_hr (o_t * tanh(c_t)))

    x_t is the input at step t (layer l > 0: layer l-1's output h_t, with ``dropout`` applied
    in training), h_{t-1} and c_{t-1} the layer's state at the step before.
""",
    proj="proj_size: P > 0 projects h_t to P features with W_hr (0 <= P < H). Default: 0\n",
    ln_c=" and the cell state inside tanh(LN(c_t))", state="(h, c)",
    attr_extra="\n        weight_hr_l[k]: (P, H), with proj_size > 0.",
    ln_attr="; ln_c_weight_l[k], ln_c_bias_l[k]: (H,)",
    hx_doc="a tuple (h_0, c_0): h_0 (L * dirs, B, H_out), c_0 (L * dirs, B, H) (unbatched: "
    "without the B dimension)",
    final="(h_n, c_n)",
    final_doc="**h_n**: (L * dirs, B, H_out) and **c_n**: (L * dirs, B, H) (unbatched: "
    "without B), the final states of each layer and direction.",
    h_out="H_out = P if proj_size > 0 else H",
    g="4", gates="i, f, g, o", kind="lstm",
)


class GRU(RecurrentLayer):
    kind = "gru"
    num_gates = 3
    recurrent_bias_apart = True

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        _proj_size: int = 0, device: torch.device | str | None = None,
        dtype: torch.dtype | None = None, *, recurrent_dropout: float = 0.0,
        layer_norm: bool = False, cell: CellFactory | None = None, implementation: str = "auto",
        **unsupported: object,
    ) -> None:  # fmt: skip
        _refuse(unsupported, "GRU", _proj_size)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            recurrent_dropout=recurrent_dropout, layer_norm=layer_norm, cell=cell,
            implementation=implementation, device=device, dtype=dtype,
        )  # fmt: skip


GRU.__doc__ = _doc(
    """GRU layers, torch.nn.GRU's drop-in replacement. For each step and layer::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)         reset gate
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)         update gate
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))    candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    x_t is the input at step t (layer l > 0: layer l-1's output h_t), h_{t-1} the layer's
    state at the step before (h_0 at t = 0).
""",
    g="3", gates="r, z, n", kind="gru",
)

LAYERS: dict[str, type[RecurrentLayer]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}  # by cell name
