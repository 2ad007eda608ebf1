"""The recurrent layers' shared constructor, input checks and dispatch between two paths.

The public classes (RNN, LSTM, GRU, with the full documentation) are in
:mod:`rnnkit.nn.layers`. Dimensions: T time (torch's L), B batch (N), D input features (H_in), H hidden units,
P = proj_size (LSTM), H_out = P or H, L layers, dirs = 2 if bidirectional else 1.

This module holds the constructor checks and the dispatch between two paths
(``self.last_path`` says which ran; debug log ``rnnkit.nn``):

* ``"fused"``: torch's fused kernels (:mod:`rnnkit.nn.fused`: oneDNN on CPU, cuDNN on GPU) with
  this layer's weights, whenever the options below are off. ``implementation="auto"`` (default)
  picks it, except for a single time step (T == 1), which the loop path serves faster.
* ``"loop"``: rnnkit's own time loop (:mod:`rnnkit.nn.loop`, backward by hand in
  :mod:`rnnkit.nn.bptt`). It serves the options torch.nn lacks: ``recurrent_dropout``,
  ``layer_norm`` and ``cell``.

The parameter layout (names, shapes, init, ``_flat_weights``...) is :mod:`rnnkit.nn.layout`;
the checks, with torch.nn's exception types, are :mod:`rnnkit.nn.checks`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from rnnkit.errors import ArgumentTypeError, ShapeMismatchError, invalid
from rnnkit.nn import checks, fused, precision, scripting
from rnnkit.nn.layout import RecurrentParameters
from rnnkit.nn.loop import LoopPath, State
from rnnkit.nn.sequence import check_lengths, pack_like

logger = logging.getLogger("rnnkit.nn")
IMPLEMENTATIONS = ("auto", "fused", "loop")
# per kind: the module name torch.nn's dimension sentence starts with, and its word before
# "instead" (torch.nn.RNN: "got 4D tensor instead"; LSTM and GRU: "got 4D instead")
TORCH_WORDS = {
    "rnn_tanh": ("RNN", "tensor "), "rnn_relu": ("RNN", "tensor "), "lstm": ("LSTM", ""),
    "gru": ("GRU", ""),
}  # fmt: skip
CellFactory = Callable[[int, int], nn.Module]


class RecurrentLayer(RecurrentParameters, LoopPath):
    """Shared constructor and forward of RNN, LSTM and GRU (see the classes' docstrings)."""

    recurrent_bias_apart = False  # GRU: b_hh sits inside r * (W_hn h + b_hn), not beside b_ih

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
        proj_size: int = 0, *, nonlinearity: str = "tanh", recurrent_dropout: float = 0.0,
        layer_norm: bool = False, cell: CellFactory | None = None, implementation: str = "auto",
        device: torch.device | str | None = None, dtype: torch.dtype | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        checks.check_layer_args(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size,
            nonlinearity,
        )  # fmt: skip
        p = recurrent_dropout
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
            raise invalid("recurrent_dropout", p, "a probability in [0, 1)")
        checks.check_bool("layer_norm", layer_norm)
        if implementation not in IMPLEMENTATIONS:
            raise invalid("implementation", implementation, "'auto', 'fused' or 'loop'")
        if cell is not None and (layer_norm or proj_size or recurrent_dropout):
            raise invalid(
                "cell", cell, "no layer_norm, proj_size or recurrent_dropout with a user cell"
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.proj_size, self.nonlinearity, self.layer_norm = proj_size, nonlinearity, layer_norm
        self.implementation = implementation
        self.user_cell = cell is not None
        self.last_path: str | None = None  # "fused" or "loop" after each forward
        self.num_directions = 2 if bidirectional else 1
        self.output_size = proj_size or hidden_size  # H_out
        if cell is not None:  # the user cells hold the parameters
            self._flat_weights_names, self._all_weights = [], []
            self.cells = nn.ModuleList(
                cell(self._layer_input_size(layer), hidden_size)
                for layer in range(num_layers)
                for _ in range(self.num_directions)
            )
            self._init_flat_weights()
            return
        factory = torch.device(device) if device is not None else None
        self._make_parameters(factory, dtype)
        self.reset_parameters()
        if layer_norm:
            self._make_layer_norms(factory, dtype)
        self._init_flat_weights()
        self.flatten_parameters()  # made on a GPU (device="cuda"): one cuDNN buffer now

    def uses_fused_path(self, steps: int | None = None) -> bool:
        """True when a forward over ``steps`` time steps goes to torch's fused kernel.

        ``auto`` sends a single step (T == 1, as in token-by-token generation) to the loop: the
        fused kernel's per-call setup costs more than the step itself (2-layer 256-unit LSTM,
        batch 1: loop 0.37 ms vs fused 0.68 ms on one thread; 0.66 vs 22 ms on 2 threads with
        another process busy, where oneDNN's threads wait on each other). Under torch.func
        transforms and forward-mode AD, which the loop's autograd Function cannot run under,
        and while torch.jit.trace records (torch.onnx.export too: the loop would be recorded
        as one unrolled step, or a Python call), the step goes to the kernel.
        """
        servable = not (
            self.user_cell or self.layer_norm or (self.recurrent_dropout and self.training)
        )
        if self.implementation == "fused" and not servable:
            raise invalid(
                "implementation", "fused",
                "'auto' or 'loop' with a user cell, layer_norm or recurrent_dropout in training",
            )  # fmt: skip
        if (
            self.implementation == "auto" and steps == 1
            and not checks.custom_functions_unsupported() and not torch.jit.is_tracing()
        ):  # fmt: skip
            return False
        return servable and self.implementation != "loop"

    @scripting.fx_leaf
    def forward(
        self, input: Tensor | PackedSequence, hx: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        """Run the layers; see the class docstring for the shapes of inputs and outputs.

        Bad arguments are refused in torch.nn's order, with its exception types: the input's
        dimensions (ValueError), the states' dimensions (RuntimeError), the input's dtype
        (ValueError) and size (RuntimeError), the states' sizes (RuntimeError), an empty
        sequence and the states' dtypes (RuntimeError).
        """
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise invalid("lengths", lengths, "None with a PackedSequence (it has lengths)")
            data = input.data
        elif isinstance(input, Tensor):
            data = input
            checks.check_input_dims(data, (2, 3), *TORCH_WORDS[self.kind])
        else:
            raise checks.not_a_tensor("input", input, "dim", "a tensor or a PackedSequence")
        weights = self._weights_now()
        batched = packed or data.dim() == 3
        parts = self._state_parts(hx, None if packed else data.dim())
        if packed:
            checks.check_input_dims(data, (2,), *TORCH_WORDS[self.kind])
        self._check_input(data, weights)
        if packed:
            state = self._initial_state(parts, int(input.batch_sizes[0]), data, weights)
            if self._choose_path(len(input.batch_sizes)):
                output, final = fused.run_packed(self.kind, input, state, weights, **self._flags())
            else:
                padded, lengths = pad_packed_sequence(input)
                out, final = self._loop(padded, state, lengths, weights)
                output = pack_like(out, lengths, input)
            if precision.cpu_autocast(data, weights[0] if weights else None):
                output, final = self._autocast_result(output, final, data, state)
            return output, final
        if not batched:
            if lengths is not None:
                raise invalid("lengths", lengths, "None for an unbatched (time, features) input")
            x = data.unsqueeze(1)
            parts = None if parts is None else [p.unsqueeze(1) for p in parts]
        else:
            x = data.transpose(0, 1) if self.batch_first else data  # (T, B, D)
        time, batch = x.shape[0], x.shape[1]
        state = self._initial_state(parts, batch, x, weights, time)
        if lengths is not None:
            lengths = check_lengths(lengths, batch, time)
        if self._choose_path(time):
            output, final = fused.run_padded(
                self.kind, x, state, weights, lengths, **self._flags()
            )
        else:
            output, final = self._loop(x, state, lengths, weights)
        if precision.cpu_autocast(x, weights[0] if weights else None):
            output, final = self._autocast_result(output, final, x, state)
        if not batched:
            output = output.squeeze(1)
            final = (
                tuple(s.squeeze(1) for s in final) if isinstance(final, tuple) else final.squeeze(1)
            )
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, final

    def _choose_path(self, steps: int) -> bool:
        use_fused = self.uses_fused_path(steps)
        self.last_path = "fused" if use_fused else "loop"
        logger.debug("%s forward on the %s path", type(self).__name__, self.last_path)
        return use_fused

    def _weights_now(self) -> list[Tensor]:
        """The flat weights for a forward (``_flat_weights``, refreshed when a weight attribute
        changed; each weight looked up once, so a parametrization such as spectral_norm runs
        once per forward); [] with a user cell."""
        return self._update_flat_weights()  # type: ignore[return-value]

    def _check_input(self, input: Tensor, weights: list[Tensor]) -> None:
        """After its dimensions, as torch.nn: the input's dtype (ValueError), size (RuntimeError)."""
        if weights and weights[0] is not None:
            checks.check_dtype(input, weights[0])
        checks.check_input_size(input, self.input_size)

    def _flags(self) -> dict[str, object]:
        return {
            "has_biases": self.bias, "num_layers": self.num_layers, "dropout": self.dropout,
            "training": self.training, "bidirectional": self.num_directions == 2,
        }  # fmt: skip

    def _state_parts(self, hx: State | None, input_dims: int | None) -> list[Tensor] | None:
        """hx's tensors ([h_0] or [h_0, c_0]; None for zeros), checked for type and, for a
        padded input of ``input_dims`` dimensions, for dimensions (torch.nn: RuntimeError "For
        batched 3-D input, hx should also be 3-D"). A packed input's states are only checked
        for size (torch.nn's sentence: "Expected hidden size ...")."""
        if hx is None:
            return None
        if self.has_cell_state:  # torch.nn reads hx[0] and hx[1] (TypeError for an int)
            if not isinstance(hx, (tuple, list)) and not isinstance(hx, Tensor):
                raise invalid("hx", type(hx).__name__, "a tuple (h_0, c_0)", ArgumentTypeError)
            if isinstance(hx, Tensor) or len(hx) != 2:
                shown = type(hx).__name__ if isinstance(hx, Tensor) else f"{len(hx)} items"
                raise invalid("hx", shown, "a tuple (h_0, c_0) of two tensors", ShapeMismatchError)
            for name, part in zip(("hx[0]", "hx[1]"), hx, strict=True):
                if not isinstance(part, Tensor):
                    raise checks.not_a_tensor(name, part, "dim")
            parts = list(hx)
        elif isinstance(hx, Tensor):
            parts = [hx]
        else:  # torch.nn fails on hx.dim() (hx.size() when packed): a tuple is no tensor here
            raise checks.not_a_tensor("hx", hx, "dim" if input_dims else "size")
        if input_dims is not None and [p.dim() for p in parts] != [input_dims] * len(parts):
            kind = "batched" if input_dims == 3 else "unbatched"
            if self.has_cell_state:
                got = ", ".join(f"{p.dim()}-D" for p in parts)
                said = f"hx and cx should also be {input_dims}-D but got ({got}) tensors"
            else:
                said = f"hx should also be {input_dims}-D but got {parts[0].dim()}-D tensor"
            wrong = next(p for p in parts if p.dim() != input_dims)
            raise invalid(
                "hx" if wrong is parts[0] else "cx", tuple(wrong.shape),
                f"a {input_dims}-D state, as the input is {input_dims}-D (For {kind}"
                f" {input_dims}-D input, {said})", ShapeMismatchError,
            )  # fmt: skip
        return parts

    def _initial_state(
        self, parts: list[Tensor] | None, batch: int, like: Tensor, weights: list[Tensor],
        time: int = 1,
    ) -> State:  # fmt: skip
        """Check h_0 (and c_0) against (L*dirs, B, H_out) (and (L*dirs, B, H)): zeros of the
        input's dtype if None. Then an empty sequence (``time`` 0) and, as torch's kernels
        would next, the states' dtypes and every state's and weight's device (RuntimeError)."""
        count = self.num_layers * self.num_directions
        shapes = [(count, batch, self.output_size)]
        if self.has_cell_state:
            shapes.append((count, batch, self.hidden_size))
        if parts is None:
            parts = [like.new_zeros(shape) for shape in shapes]
        else:
            torch_names = ("hidden[0]", "hidden[1]") if self.has_cell_state else ("hidden",)
            for name, part, shape, said in zip(("hx", "cx"), parts, shapes, torch_names, strict=False):
                checks.check_state(name, part, shape, "(layers*directions, batch, size)", said)
        if time == 0:  # torch's kernel's sentence, on both paths
            raise invalid("input", tuple(like.shape), "at least one time step (Expected sequence"
                          " length to be larger than 0 in RNN)", ShapeMismatchError)  # fmt: skip
        weight = weights[1] if weights else None
        for name, part in zip(("hx", "cx"), parts, strict=False):
            if weight is not None and part.dtype != weight.dtype:
                checks.check_product_dtype(name, part, weight)
        checks.check_devices(like, parts, weights)
        return (parts[0], parts[1]) if self.has_cell_state else parts[0]

    def _autocast_result(
        self, output: Tensor | PackedSequence, final: State, x: Tensor, state: State
    ) -> tuple[Tensor | PackedSequence, State]:
        """Under CPU autocast (:func:`rnnkit.nn.precision.cpu_autocast`), the output and final
        states in the dtypes torch.nn returns there
        (:func:`rnnkit.nn.precision.torch_autocast_dtypes`), whatever precision rnnkit
        computed in."""
        states = final if isinstance(final, tuple) else (final,)
        initial = state if isinstance(state, tuple) else (state,)
        sizes = output.batch_sizes if isinstance(output, PackedSequence) else None
        uneven = sizes is not None and int(sizes[0]) != int(sizes[-1])
        dtypes = precision.torch_autocast_dtypes(
            self.kind, x, [s.dtype for s in initial], uneven, bool(self.proj_size)
        )
        output = output.to(dtypes[0])
        cast = tuple(s.to(d) for s, d in zip(states, dtypes[1:], strict=True))
        return output, (cast if isinstance(final, tuple) else cast[0])

    # torch.nn.RNNBase's helpers, for code written against them (subclasses, wrappers that
    # pack by hand): the same arguments, results and exception types.
    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Tensor | None) -> tuple[int, int, int]:
        """(layers*directions, batch, H_out) for ``input`` (packed data when batch_sizes)."""
        if batch_sizes is not None:
            batch = int(batch_sizes[0])
        else:
            batch = input.size(0) if self.batch_first else input.size(1)
        return (self.num_layers * self.num_directions, batch, self.output_size)

    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:
        """torch.nn's checks of an input as its forward passes it on (3-D, or packed data 2-D):
        the weights' dtype (ValueError), the dimensions and the size (RuntimeError)."""
        weights = self._weights_now()
        if weights and weights[0] is not None:
            checks.check_dtype(input, weights[0])
        dims = 2 if batch_sizes is not None else 3
        if input.dim() != dims:
            raise invalid("input", tuple(input.shape), f"a {dims}-D tensor (input must have"
                          f" {dims} dimensions, got {input.dim()})", ShapeMismatchError)  # fmt: skip
        checks.check_input_size(input, self.input_size)

    def check_hidden_size(
        self, hx: Tensor, expected_hidden_size: tuple[int, ...],
        msg: str = "Expected hidden size {}, got {}",
    ) -> None:  # fmt: skip
        """RuntimeError (ShapeMismatchError) unless hx has exactly the expected size."""
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise invalid("hx", tuple(hx.shape), f"shape {tuple(expected_hidden_size)} "
                          f"({msg.format(list(expected_hidden_size), list(hx.size()))})",
                          ShapeMismatchError)  # fmt: skip

    def check_forward_args(self, input: Tensor, hidden: State, batch_sizes: Tensor | None) -> None:
        """The input, then h_0 (and c_0) against the sizes the input implies."""
        self.check_input(input, batch_sizes)
        expected = self.get_expected_hidden_size(input, batch_sizes)
        if isinstance(hidden, tuple):
            cell = (*expected[:2], self.hidden_size)
            self.check_hidden_size(hidden[0], expected, "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(hidden[1], cell, "Expected hidden[1] size {}, got {}")
        else:
            self.check_hidden_size(hidden, expected)

    def permute_hidden(self, hx: State, permutation: Tensor | None) -> State:
        """hx with its batch dimension (1) in ``permutation``'s order (None: unchanged)."""
        if permutation is None:
            return hx
        if isinstance(hx, tuple):
            return (hx[0].index_select(1, permutation), hx[1].index_select(1, permutation))
        return hx.index_select(1, permutation)

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles for this layer: torch.nn's module of its kind
        holding these same parameters (:mod:`rnnkit.nn.scripting`)."""
        torch_name = {"lstm": "LSTM", "gru": "GRU"}.get(self.kind, "RNN")
        torch_cls = scripting.TORCH_CLASSES[torch_name]
        options = {
            "num_layers": self.num_layers, "bias": self.bias, "batch_first": self.batch_first,
            "dropout": self.dropout, "bidirectional": self.bidirectional,
        } | ({"proj_size": self.proj_size} if self.proj_size else {}) | (
            {"nonlinearity": self.nonlinearity} if torch_name == "RNN" else {}
        )  # fmt: skip
        extras = {
            "layer_norm": self.layer_norm, "recurrent_dropout": bool(self.recurrent_dropout),
            "cell": self.user_cell,
        }  # fmt: skip
        return scripting.torch_twin(
            self, torch_cls, self._flat_weights_names, extras, self.input_size, self.hidden_size,
            **options,
        )  # fmt: skip

    @property
    def mode(self) -> str:
        """torch.nn's name for the kernel: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'."""
        return self.kind.upper()

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {
            "proj_size": 0, "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
            "bidirectional": False, "recurrent_dropout": 0.0, "layer_norm": False,
        }  # fmt: skip
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


scripting.SCRIPTABLE.append(RecurrentLayer)
