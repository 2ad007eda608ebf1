"""Recurrent cells written from their equations: SimpleRNN, LSTM and GRU.

Dimensions: B batch, D input features, H hidden units, P projection size (LSTM ``proj_size``),
G gates (1 for SimpleRNN, 4 for LSTM, 3 for GRU).

Each cell is split into two halves so that a layer can run the first half for every time
step in one matrix product before its time loop:

* the input projection ``gi = W_ih x + b_ih`` (G*H values per step), which needs no state;
* the step functions below (``simple_rnn_step``, ``lstm_step``, ``gru_step``), which take ``gi``
  and the previous state and apply the gate equations. ``lstm_step_gates`` and
  ``gru_step_gates`` are the same steps returning their gate activations too (for
  :mod:`rnnkit.nn.recording`); the plain steps call them, so each equation is written once.

The cell modules (``RNNCell`` alias ``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) have the parameter names, shapes,
initialisation and gate order of ``torch.nn.RNNCell``, ``LSTMCell`` and ``GRUCell``, so their
state_dicts load into each other unchanged. ``rnnkit.nn.layers`` runs the same step functions
with the weights of each layer and direction.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import ArgumentTypeError, ShapeMismatchError, invalid
from rnnkit.nn import scripting
from rnnkit.nn.checks import (
    NONLINEARITIES,
    check_cell_input_size,
    check_cell_size,
    check_cell_state,
    check_cell_state_dims,
    check_input_dims,
    check_product_dtype,
    not_a_tensor,
)

Norm = tuple[Tensor, Tensor] | None  # (weight, bias) of a layer normalisation, or none


def _layer_norm(x: Tensor, norm: Norm) -> Tensor:
    """Layer-normalise the last dimension of ``x`` when ``norm`` is given, else return ``x``."""
    if norm is None:
        return x
    weight, bias = norm
    return F.layer_norm(x, weight.shape, weight, bias)


def recurrent_projection(
    h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, norm_hh: Norm, h_mask: Tensor | None
) -> Tensor:
    """gh = LN(W_hh (h * mask)) + b_hh.  h: (B, H or P) -> gh: (B, G*H).

    ``h_mask`` (B, H or P) is a recurrent (variational) dropout mask, already scaled by 1/(1-p);
    ``norm_hh`` the optional layer normalisation of the pre-activation.
    """
    if h_mask is not None:
        h = h * h_mask
    if norm_hh is None:  # one product with the bias, as torch's cells (and their autocast dtype)
        return F.linear(h, weight_hh, bias_hh)
    gh = _layer_norm(F.linear(h, weight_hh), norm_hh)
    return gh if bias_hh is None else gh + bias_hh


def simple_rnn_step(
    gi: Tensor,
    h: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
    norm_hh: Norm = None,
    h_mask: Tensor | None = None,
) -> Tensor:
    """One SimpleRNN step.  h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  f = tanh or relu.

    gi: (B, H) = W_ih x_t + b_ih;  h: (B, H) = h_{t-1};  weight_hh: (H, H);  returns h_t: (B, H).
    """
    return simple_rnn_pointwise(
        gi + recurrent_projection(h, weight_hh, bias_hh, norm_hh, h_mask), nonlinearity
    )


def simple_rnn_pointwise(pre: Tensor, nonlinearity: str) -> Tensor:
    """h_t = f(pre), f = tanh or relu.  pre: (B, H) = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh."""
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_step(
    gi: Tensor,
    h: Tensor,
    c: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    weight_hr: Tensor | None = None,
    norm_hh: Norm = None,
    norm_c: Norm = None,
    h_mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One LSTM step (gate order i, f, g, o as in torch.nn.LSTM)::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
        g_t = tanh   (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)      candidate cell
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)            (then h_t = W_hr h_t when proj_size > 0)

    gi: (B, 4H);  h: (B, P or H);  c: (B, H);  weight_hh: (4H, P or H);  weight_hr: (P, H).
    With layer normalisation, tanh(c_t) becomes tanh(LN(c_t)).  Returns (h_t, c_t).
    """
    h_next, c_next, _ = lstm_step_gates(
        gi, h, c, weight_hh, bias_hh, weight_hr, norm_hh, norm_c, h_mask
    )
    return h_next, c_next


def lstm_step_gates(
    gi: Tensor,
    h: Tensor,
    c: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    weight_hr: Tensor | None = None,
    norm_hh: Norm = None,
    norm_c: Norm = None,
    h_mask: Tensor | None = None,
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """:func:`lstm_step` that also returns the step's activations.

    Same arguments and shapes as :func:`lstm_step`. Returns h_t (B, P or H), c_t (B, H) and
    (i_t, f_t, g_t, o_t, tanh(c_t)), each (B, H): what :mod:`rnnkit.nn.recording` records.
    """
    gates = gi + recurrent_projection(h, weight_hh, bias_hh, norm_hh, h_mask)
    h_next, c_next, activations = lstm_pointwise(gates, c, norm_c)
    if weight_hr is not None:
        h_next = F.linear(h_next, weight_hr)
    return h_next, c_next, activations


def lstm_pointwise(
    gates: Tensor, c: Tensor, norm_c: Norm = None
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """The LSTM gate equations on pre-activations (before any projection).

    gates: (B, 4H) = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh;  c: (B, H) = c_{t-1}.
    Returns o_t * tanh(c_t) (B, H), c_t (B, H), and the activations (i, f, g, o, tanh(c_t)),
    each (B, H), that :mod:`rnnkit.nn.bptt` needs for its backward pass.
    """
    i, f, g, o = gates.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = f * c + i * g
    tanh_c = torch.tanh(_layer_norm(c_next, norm_c))
    return o * tanh_c, c_next, (i, f, g, o, tanh_c)


def gru_step(
    gi: Tensor,
    h: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    norm_hh: Norm = None,
    h_mask: Tensor | None = None,
) -> Tensor:
    """One GRU step (gate order r, z, n as in torch.nn.GRU)::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)       reset gate
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)       update gate
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))  candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    gi: (B, 3H);  h: (B, H);  weight_hh: (3H, H);  returns h_t: (B, H).
    """
    return gru_step_gates(gi, h, weight_hh, bias_hh, norm_hh, h_mask)[0]


def gru_step_gates(
    gi: Tensor,
    h: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    norm_hh: Norm = None,
    h_mask: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """:func:`gru_step` that also returns the step's activations.

    Same arguments and shapes as :func:`gru_step`. Returns h_t (B, H) and
    (r_t, z_t, n_t, W_hn h_{t-1} + b_hn), each (B, H): what :mod:`rnnkit.nn.recording` records.
    """
    return gru_pointwise(gi, recurrent_projection(h, weight_hh, bias_hh, norm_hh, h_mask), h)


def gru_pointwise(gi: Tensor, gh: Tensor, h: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The GRU gate equations.  gi: (B, 3H) = W_ih x_t + b_ih;  gh: (B, 3H) = W_hh h_{t-1} + b_hh;
    h: (B, H) = h_{t-1}.

    Returns h_t (B, H) and the activations (r, z, n, W_hn h_{t-1} + b_hn), each (B, H), that
    :mod:`rnnkit.nn.bptt` needs for its backward pass.
    """
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return n + z * (h - n), (r, z, n, h_n)


def input_projection(x: Tensor, weight_ih: Tensor, bias_ih: Tensor | None, norm_ih: Norm) -> Tensor:
    """gi = LN(W_ih x) + b_ih for any leading dims.  x: (..., D) -> (..., G*H)."""
    if norm_ih is None:
        return F.linear(x, weight_ih, bias_ih)
    gi = _layer_norm(F.linear(x, weight_ih), norm_ih)
    return gi if bias_ih is None else gi + bias_ih


class _CellBase(nn.Module):
    """Parameters and checks shared by the three cells (torch.nn.RNNCellBase's layout)."""

    num_gates = 1
    _torch_name = "RNNCell"  # the class name torch.nn's messages start with
    _state_product_first = True  # torch's RNN and LSTM cell kernels compute W_hh h before W_ih x

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        check_cell_size("input_size", input_size)
        check_cell_size("hidden_size", hidden_size)
        factory = {"device": device, "dtype": dtype}
        gates = self.num_gates * hidden_size
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        self.layer_norm = layer_norm
        if layer_norm:  # added after the reset so the random stream matches torch.nn's cells
            self.ln_ih_weight = nn.Parameter(torch.ones(gates, **factory))
            self.ln_ih_bias = nn.Parameter(torch.zeros(gates, **factory))
            self.ln_hh_weight = nn.Parameter(torch.ones(gates, **factory))
            self.ln_hh_bias = nn.Parameter(torch.zeros(gates, **factory))

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, as torch.nn does (0 when H = 0);
        layer-norm gains 1 and biases 0, as the layers do."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for name, param in self.named_parameters():
            if name.startswith("ln_"):
                nn.init.constant_(param, 1.0 if name.endswith("_weight") else 0.0)
            else:
                nn.init.uniform_(param, -bound, bound)

    def norms(self) -> tuple[Norm, Norm]:
        """(norm_ih, norm_hh) for the step functions: (weight, bias) pairs or None."""
        if not self.layer_norm:
            return None, None
        return (self.ln_ih_weight, self.ln_ih_bias), (self.ln_hh_weight, self.ln_hh_bias)

    def _states(
        self, input: Tensor, names: tuple[str, ...], states: tuple[Tensor | None, ...]
    ) -> list[Tensor]:
        """Check the input and the states (``names`` "hx", or "hx[0]" and "hx[1]") in torch.nn's
        order; return the states (zeros (B, H) or (H,) for None).

        Dimensions first (ValueError: the input's, then each state's), then sizes (RuntimeError:
        the input's features, each state's batch and hidden size), then the dtypes of what meets
        a weight in a product (RuntimeError: the input and h, in the order torch's kernel
        multiplies them; c only enters elementwise arithmetic, so it may have another dtype and
        promotes, as in torch.nn).
        """
        check_input_dims(input, (1, 2), self._torch_name)
        for name, state in zip(names, states, strict=True):
            if state is not None:
                check_cell_state_dims(name, state, self._torch_name)
        self._check_options()
        check_cell_input_size(input, self.input_size)
        for name, state in zip(names, states, strict=True):
            if state is not None:
                check_cell_state(name, state, input, self.hidden_size)
        w_ih, w_hh, h = self.weight_ih, self.weight_hh, states[0]
        if input.dtype != w_ih.dtype or (h is not None and h.dtype != w_hh.dtype):
            products = [("input", input, w_ih), (names[0], h, w_hh)]
            for name, tensor, weight in products[:: -1 if self._state_product_first else 1]:
                if tensor is not None:
                    check_product_dtype(name, tensor, weight)
        zeros = (*input.shape[:-1], self.hidden_size)
        return [input.new_zeros(zeros) if state is None else state for state in states]

    def _check_options(self) -> None:
        """Options that can be changed after construction, checked at the forward (none here)."""

    def _project(self, x: Tensor) -> Tensor:
        norm_ih, _ = self.norms()
        return input_projection(x, self.weight_ih, self.bias_ih, norm_ih)

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles for this cell: torch.nn's cell of its kind holding
        these same parameters (:mod:`rnnkit.nn.scripting`)."""
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        torch_cls = scripting.TORCH_CLASSES[self._torch_name]
        options = {"nonlinearity": self.nonlinearity} if self._torch_name == "RNNCell" else {}
        return scripting.torch_twin(
            self, torch_cls, names, {"layer_norm": self.layer_norm}, self.input_size,
            self.hidden_size, self.bias, **options,
        )  # fmt: skip

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        return text + (", layer_norm=True" if self.layer_norm else "")


scripting.SCRIPTABLE.append(_CellBase)


class RNNCell(_CellBase):
    """Elman RNN cell: h' = f(W_ih x + b_ih + W_hh h + b_hh), f = tanh or relu.

    torch.nn.RNNCell's drop-in replacement (its name and repr too); ``SimpleRNNCell`` (Keras'
    name) is the same class.

    Args: input_size D and hidden_size H (ints >= 0; 0 gives empty weights, as in torch.nn),
    bias (default True: b_ih and b_hh), nonlinearity ('tanh' or 'relu', checked at construction),
    device, dtype (in torch.nn's positional order), and keyword-only layer_norm (rnnkit:
    layer-normalise W_ih x and W_hh h before the biases; gains 1, biases 0).

    Inputs: input (B, D) or unbatched (D,); hx (B, H) or (H,) (zeros if None).
    Outputs: h' like hx.
    Attributes: weight_ih (H, D), weight_hh (H, H), bias_ih and bias_hh (H,), all from
    U(-sqrt(1/H), sqrt(1/H)) as torch.nn.RNNCell's, so state_dicts load both ways; with layer_norm also ln_ih_weight/ln_ih_bias, ln_hh_weight/ln_hh_bias (H,).
    Errors as torch.nn.RNNCell: ValueError for a 3-D input or state, RuntimeError for sizes
    that do not fit (rnnkit.errors types that are both).
    """

    num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        layer_norm: bool = False,
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise invalid("nonlinearity", nonlinearity, "'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, device, dtype, layer_norm=layer_norm)
        self.nonlinearity = nonlinearity

    @scripting.fx_leaf
    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """input: (B, D) or (D,);  hx: (B, H) or (H,), zeros if None.  Returns h': like hx."""
        (h,) = self._states(input, ("hx",), (hx,))
        _, norm_hh = self.norms()
        gi = self._project(input)
        return simple_rnn_step(gi, h, self.weight_hh, self.bias_hh, self.nonlinearity, norm_hh)

    def _check_options(self) -> None:
        """A ``nonlinearity`` changed after construction fails here, as in torch.nn."""
        if self.nonlinearity not in NONLINEARITIES:
            raise invalid("nonlinearity", self.nonlinearity, "'tanh' or 'relu' (Unknown"
                          f" nonlinearity: {self.nonlinearity})", ShapeMismatchError)  # fmt: skip

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity={self.nonlinearity}"


SimpleRNNCell = RNNCell  # Keras' name


class LSTMCell(_CellBase):
    """LSTM cell (gates i, f, g, o; see :func:`lstm_step` for the equations).

    torch.nn.LSTMCell's drop-in replacement.

    Args: input_size D and hidden_size H (ints >= 0; 0 gives empty weights, as in torch.nn),
    bias (default True: b_ih and b_hh), device, dtype (in torch.nn's positional order), and
    keyword-only layer_norm (rnnkit: layer-normalise W_ih x and W_hh h before the biases, and c'
    inside tanh(LN(c')); gains 1, biases 0).

    Inputs: input (B, D) or unbatched (D,); hx a tuple (h, c), each (B, H) or (H,) (zeros if None).
    Outputs: (h', c'), each like h.
    Attributes: weight_ih (4H, D), weight_hh (4H, H), bias_ih and bias_hh (4H,), all from
    U(-sqrt(1/H), sqrt(1/H)) as torch.nn.LSTMCell's, so state_dicts load both ways; with layer_norm also ln_ih_*/ln_hh_* (4H,) and ln_c_weight/ln_c_bias (H,).
    Errors as torch.nn.LSTMCell: ValueError for a 3-D input or state, RuntimeError for sizes
    that do not fit (rnnkit.errors types that are both).
    """

    num_gates = 4
    _torch_name = "LSTMCell"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        layer_norm: bool = False,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype, layer_norm=layer_norm)
        if layer_norm:
            self.ln_c_weight = nn.Parameter(torch.ones(hidden_size, device=device, dtype=dtype))
            self.ln_c_bias = nn.Parameter(torch.zeros(hidden_size, device=device, dtype=dtype))

    @scripting.fx_leaf
    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """input: (B, D) or (D,);  hx: (h, c), each (B, H) or (H,), zeros if None."""
        check_input_dims(input, (1, 2), self._torch_name)  # before hx's type, as in torch.nn
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise invalid(
                "hx", type(hx).__name__ if not isinstance(hx, (tuple, list)) else f"{len(hx)} tensors",
                "a tuple (h, c) of two tensors (lstm_cell(): argument 'hx' must be tuple of Tensors)",
                ArgumentTypeError if not isinstance(hx, (tuple, list)) else ShapeMismatchError,
            )  # fmt: skip
        h0, c0 = (None, None) if hx is None else hx
        if hx is not None and (h0 is None or c0 is None):
            raise not_a_tensor("hx[0]" if h0 is None else "hx[1]", None, "dim")
        h, c = self._states(input, ("hx[0]", "hx[1]"), (h0, c0))
        _, norm_hh = self.norms()
        norm_c = (self.ln_c_weight, self.ln_c_bias) if self.layer_norm else None
        gi = self._project(input)
        return lstm_step(gi, h, c, self.weight_hh, self.bias_hh, None, norm_hh, norm_c)


class GRUCell(_CellBase):
    """GRU cell (gates r, z, n; see :func:`gru_step` for the equations).

    torch.nn.GRUCell's drop-in replacement.

    Args: input_size D and hidden_size H (ints >= 0; 0 gives empty weights, as in torch.nn),
    bias (default True: b_ih and b_hh), device, dtype (in torch.nn's positional order), and
    keyword-only layer_norm (rnnkit: layer-normalise W_ih x and W_hh h before the biases;
    gains 1, biases 0).

    Inputs: input (B, D) or unbatched (D,); hx (B, H) or (H,) (zeros if None).
    Outputs: h' like hx.
    Attributes: weight_ih (3H, D), weight_hh (3H, H), bias_ih and bias_hh (3H,), all from
    U(-sqrt(1/H), sqrt(1/H)) as torch.nn.GRUCell's, so state_dicts load both ways; with layer_norm also ln_ih_weight/ln_ih_bias, ln_hh_weight/ln_hh_bias (3H,).
    Errors as torch.nn.GRUCell: ValueError for a 3-D input or state, RuntimeError for sizes
    that do not fit (rnnkit.errors types that are both).
    """

    num_gates = 3
    _torch_name = "GRUCell"
    _state_product_first = False

    @scripting.fx_leaf
    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """input: (B, D) or (D,);  hx: (B, H) or (H,), zeros if None.  Returns h': like hx."""
        (h,) = self._states(input, ("hx",), (hx,))
        _, norm_hh = self.norms()
        return gru_step(self._project(input), h, self.weight_hh, self.bias_hh, norm_hh)
