"""Recurrent layers RNN, LSTM and GRU: drop-in replacements for torch.nn's, plus options.

Dimensions: T time, B batch, D input features, H hidden units, P = proj_size (LSTM) and
H_out = P or H, L layers, dirs = 2 if bidirectional else 1.

Each layer keeps torch.nn's parameters (``weight_ih_l0``, ``bias_hh_l1_reverse``,
``weight_hr_l0``), shapes, gate order and initialisation, so a torch.nn state_dict loads
unchanged and back. ``forward(input, hx=None, lengths=None)`` takes a padded batch with
optional ``lengths`` (B,) or a PackedSequence and returns ``(output, h_n)`` (LSTM:
``(output, (h_n, c_n))``) exactly as torch.nn does.

Two paths compute it (``self.last_path`` says which ran; debug log ``rnnkit.nn``):

* ``"fused"``: torch's fused kernels (oneDNN on CPU, cuDNN on GPU) with this layer's weights,
  whenever the options below are off. ``implementation="auto"`` (default) picks it.
* ``"loop"``: rnnkit's own time loop over the cells' equations. The input projections of all
  T steps are one matrix product before the loop, so each step costs one (B, H_out) x
  (H_out, G*H) product plus elementwise gates. In training, each layer direction is one
  autograd node whose backward pass is written by hand (:mod:`rnnkit.nn.bptt`); layer norm,
  user cells and inference run the step functions of ``rnnkit.nn.cells`` instead.
  It serves the options torch.nn lacks:
  ``recurrent_dropout`` (one variational mask per sequence on h before W_hh, Gal & Ghahramani
  2016), ``layer_norm`` (of the input and recurrent pre-activations, and of c for LSTM; Ba et
  al. 2016) and ``cell`` (a factory ``cell(input_size, hidden_size) -> module`` whose module
  has the torch cell call signature ``module(x_t, hx) -> hx``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.errors import invalid
from rnnkit.nn import bptt, cells, fused
from rnnkit.nn.sequence import check_lengths, reverse_padded, step_mask

logger = logging.getLogger("rnnkit.nn")
State = Tensor | tuple[Tensor, Tensor]
StepFn = Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]]
IMPLEMENTATIONS = ("auto", "fused", "loop")


class _RecurrentLayer(nn.Module):
    """Shared constructor, parameters and forward of RNN, LSTM and GRU (see module docstring)."""

    num_gates = 1
    has_cell_state = False
    recurrent_bias_apart = False  # GRU: b_hh sits inside r * (W_hn h + b_hn), not beside b_ih

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        nonlinearity: str = "tanh",
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        cell: Callable[[int, int], nn.Module] | None = None,
        implementation: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)
        ):  # fmt: skip
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise invalid(name, value, "a positive int")
        for name, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
                raise invalid(name, p, "a probability in [0, 1)")
        if nonlinearity not in cells.NONLINEARITIES:
            raise invalid("nonlinearity", nonlinearity, "'tanh' or 'relu'")
        if not isinstance(proj_size, int) or not 0 <= proj_size < hidden_size:
            raise invalid("proj_size", proj_size, f"an int in 0..{hidden_size - 1} (< hidden_size)")
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
        if cell is not None:
            self.cells = nn.ModuleList(
                cell(self._layer_input_size(layer), hidden_size)
                for layer in range(num_layers)
                for _ in range(self.num_directions)
            )
        else:
            self._make_parameters(torch.device(device) if device else None, dtype)
            self.reset_parameters()
            if layer_norm:
                self._make_layer_norms(device, dtype)
            self.flatten_parameters()  # made on a GPU (device="cuda"): one cuDNN buffer now

    # ---- parameters (torch.nn.RNNBase's names, order and initialisation) ----
    def _layer_input_size(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.output_size * self.num_directions

    def _suffixes(self) -> list[str]:
        """'_l0', '_l0_reverse', '_l1', ... in torch.nn's order (index = layer * dirs + dir)."""
        directions = ["", "_reverse"][: self.num_directions]
        return [f"_l{layer}{d}" for layer in range(self.num_layers) for d in directions]

    def _make_parameters(self, device: torch.device | None, dtype: torch.dtype | None) -> None:
        gates = self.num_gates * self.hidden_size
        self._flat_names: list[str] = []
        for index, suffix in enumerate(self._suffixes()):
            shapes = {
                "weight_ih": (gates, self._layer_input_size(index // self.num_directions)),
                "weight_hh": (gates, self.output_size),
            }
            if self.bias:
                shapes |= {"bias_ih": (gates,), "bias_hh": (gates,)}
            if self.proj_size:
                shapes["weight_hr"] = (self.proj_size, self.hidden_size)
            for kind, shape in shapes.items():
                tensor = torch.empty(shape, device=device, dtype=dtype)
                self.register_parameter(kind + suffix, nn.Parameter(tensor))
                self._flat_names.append(kind + suffix)

    def _make_layer_norms(self, device: torch.device | str | None, dtype: torch.dtype | None):
        gates = self.num_gates * self.hidden_size
        sizes = {"ln_ih": gates, "ln_hh": gates} | (
            {"ln_c": self.hidden_size} if self.has_cell_state else {}
        )
        for suffix in self._suffixes():
            for kind, size in sizes.items():
                ones = torch.ones(size, device=device, dtype=dtype)
                self.register_parameter(f"{kind}_weight{suffix}", nn.Parameter(ones))
                self.register_parameter(
                    f"{kind}_bias{suffix}", nn.Parameter(torch.zeros_like(ones))
                )

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every recurrent weight, in torch.nn's order."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name in self._flat_names:
            nn.init.uniform_(getattr(self, name), -bound, bound)

    @property
    def flat_weights(self) -> list[Tensor]:
        """The recurrent weights in torch.nn's flat order (what the fused kernels take)."""
        return [getattr(self, name) for name in self._flat_names]

    def flatten_parameters(self) -> None:
        """Put the weights in one contiguous cuDNN buffer, as torch.nn's does; else a no-op.

        Only on a CUDA device with cuDNN (and one dtype, no aliased weights): the parameters
        then become views into one buffer, so cuDNN does not compact them on every call.
        Runs after every ``.to()`` / ``.cuda()`` (see ``_apply``).
        """
        weights = self.flat_weights if not self.user_cell else []
        if not weights or len({w.data_ptr() for w in weights}) != len(weights):
            return
        first = weights[0]
        if not all(
            w.is_cuda and w.dtype == first.dtype and torch.backends.cudnn.is_acceptable(w)
            for w in weights
        ):
            return
        from torch.backends.cudnn import rnn as cudnn_rnn  # importable only where torch has CUDA

        with torch.cuda.device_of(first), torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                weights_per_layer = (4 if self.bias else 2) + (1 if self.proj_size else 0)
                torch._cudnn_rnn_flatten_weight(
                    weights, weights_per_layer, self.input_size,
                    cudnn_rnn.get_cudnn_mode(self.kernel.upper()), self.hidden_size,
                    self.proj_size, self.num_layers, self.batch_first, self.bidirectional,
                )  # fmt: skip

    def _apply(self, fn, recurse: bool = True):  # type: ignore[no-untyped-def]
        """Module.to/cuda/half...; then re-flatten the weights for cuDNN (as torch.nn does)."""
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

    def _norm(self, kind: str, suffix: str) -> cells.Norm:
        if not self.layer_norm:
            return None
        return getattr(self, f"{kind}_weight{suffix}"), getattr(self, f"{kind}_bias{suffix}")

    # ---- forward ----
    @property
    def kernel(self) -> str:
        """Name of the fused kernel for this layer kind ('lstm', 'gru', 'rnn_tanh', ...)."""
        raise NotImplementedError

    def uses_fused_path(self, steps: int | None = None) -> bool:
        """True when a forward over ``steps`` time steps goes to torch's fused kernel.

        ``auto`` sends a single step (T == 1, as in token-by-token generation) to the loop: the
        fused kernel's per-call setup costs more than the step itself (2-layer 256-unit LSTM,
        batch 1: loop 0.37 ms vs fused 0.68 ms on one thread; 0.66 vs 22 ms on 2 threads with
        another process busy, where oneDNN's threads wait on each other).
        """
        if self.implementation not in IMPLEMENTATIONS:
            raise invalid("implementation", self.implementation, "'auto', 'fused' or 'loop'")
        servable = not (
            self.user_cell or self.layer_norm or (self.recurrent_dropout and self.training)
        )
        if self.implementation == "fused" and not servable:
            raise invalid(
                "implementation", "fused",
                "'auto' or 'loop' with a user cell, layer_norm or recurrent_dropout in training",
            )  # fmt: skip
        if self.implementation == "auto" and steps == 1:
            return False
        return servable and self.implementation != "loop"

    def forward(
        self, input: Tensor | PackedSequence, hx: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        """input: (T, B, D), or (B, T, D) with batch_first, or (T, D) unbatched, or a
        PackedSequence;  hx: (L*dirs, B, H_out) (LSTM: that and c0 (L*dirs, B, H)), zeros if
        None;  lengths: (B,) ints in 1..T for a padded batch.

        Returns output (T, B, dirs*H_out) (batch_first: (B, T, ...); packed in, packed out),
        zeros at padded steps, and h_n (L*dirs, B, H_out) (LSTM: (h_n, c_n)), each sequence's
        state at its own last step (the reverse direction's at its first).
        """
        use_fused = self.uses_fused_path(_time_steps(input, self.batch_first))
        self.last_path = "fused" if use_fused else "loop"
        logger.debug("%s forward on the %s path", type(self).__name__, self.last_path)
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise invalid("lengths", lengths, "None with a PackedSequence (it has lengths)")
            batch = int(input.batch_sizes[0])
            state = self._initial_state(hx, batch, input.data)
            if use_fused:
                return fused.run_packed(
                    self.kernel, input, state, self.flat_weights, **self._flags()
                )
            padded, lengths = pad_packed_sequence(input)
            output, final = self._loop(padded, state, lengths)
            repacked = pack_padded_sequence(output, lengths, enforce_sorted=False)
            return repacked, final
        if not isinstance(input, Tensor) or input.dim() not in (2, 3):
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise invalid("input", shape, "a 3-D (time, batch, features) tensor, 2-D unbatched")
        if input.shape[-1] != self.input_size:
            raise invalid(
                "input", tuple(input.shape), f"last dimension input_size={self.input_size}"
            )
        unbatched = input.dim() == 2
        if unbatched:
            if lengths is not None:
                raise invalid("lengths", lengths, "None for an unbatched (time, features) input")
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if isinstance(hx, tuple) else hx.unsqueeze(1)
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input  # (T, B, D)
        time, batch = x.shape[0], x.shape[1]
        if lengths is not None:
            lengths = check_lengths(lengths, batch, time)
        state = self._initial_state(hx, batch, x)
        if use_fused:
            output, final = fused.run_padded(
                self.kernel, x, state, self.flat_weights, lengths, **self._flags()
            )
        else:
            output, final = self._loop(x, state, lengths)
        if unbatched:
            output = output.squeeze(1)
            final = (
                tuple(s.squeeze(1) for s in final) if isinstance(final, tuple) else final.squeeze(1)
            )
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, final

    def _flags(self) -> dict[str, object]:
        return {
            "has_biases": self.bias, "num_layers": self.num_layers, "dropout": self.dropout,
            "training": self.training, "bidirectional": self.bidirectional,
        }  # fmt: skip

    def _initial_state(self, hx: State | None, batch: int, like: Tensor) -> State:
        """Check hx against (L*dirs, B, H_out) (and c against (L*dirs, B, H)); zeros if None."""
        count = self.num_layers * self.num_directions
        shapes = [(count, batch, self.output_size)]
        if self.has_cell_state:
            shapes.append((count, batch, self.hidden_size))
        if hx is None:
            zeros = [like.new_zeros(shape) for shape in shapes]
            return (zeros[0], zeros[1]) if self.has_cell_state else zeros[0]
        parts = list(hx) if isinstance(hx, (tuple, list)) else [hx]
        if len(parts) != len(shapes) or not all(isinstance(p, Tensor) for p in parts):
            raise invalid(
                "hx", type(hx).__name__, "a tuple (h_0, c_0)" if self.has_cell_state else "a tensor"
            )
        for name, part, shape in zip(("hx", "cx")[: len(shapes)], parts, shapes, strict=True):
            if tuple(part.shape) != shape:
                raise invalid(
                    name, tuple(part.shape), f"shape {shape} (layers*directions, batch, size)"
                )
        return (parts[0], parts[1]) if self.has_cell_state else parts[0]

    # ---- loop path ----
    def _loop(self, x: Tensor, hx: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """Time loop over layers and directions.  x: (T, B, D) -> output (T, B, dirs*H_out)."""
        states = hx if isinstance(hx, tuple) else (hx,)
        time = x.shape[0]
        mask = None if lengths is None else step_mask(lengths, time, x.device)
        finals: list[tuple[Tensor, ...]] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                source = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
                out, final = self._run_direction(
                    index, source, tuple(s[index] for s in states), mask
                )
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
            output = output.masked_fill(~mask, 0.0)
        return output, state

    def _recurrent_mask(self, batch: int, like: Tensor) -> Tensor | None:
        """Variational dropout mask (B, H_out), scaled by 1/(1-p); None outside training."""
        if not (self.recurrent_dropout and self.training):
            return None
        keep = 1.0 - self.recurrent_dropout
        return like.new_empty(batch, self.output_size).bernoulli_(keep) / keep

    def _run_direction(
        self, index: int, x: Tensor, state: tuple[Tensor, ...], mask: Tensor | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One layer direction (layer * dirs + direction = index) over its input.

        x: (T, B, D), already reversed for the reverse direction; state: (h_0[, c_0]);
        mask: (T, B, 1) or None. Returns the outputs (T, B, H_out) and the final state.
        Plain cells run in :mod:`rnnkit.nn.bptt` (one autograd node, backward by hand).
        Layer normalisation and user cells run the step functions under autograd, and so
        does inference (grad mode off), where the steps record nothing and cost least.
        """
        if self.user_cell:
            step = partial(_user_cell_step, self.cells[index], self.has_cell_state)
            return self._run_steps((x, step), state, mask)
        h_mask = self._recurrent_mask(x.shape[1], x)
        suffix = self._suffixes()[index]
        weight = {
            name[: -len(suffix)]: getattr(self, name)
            for name in self._flat_names
            if name.endswith(suffix)
        }
        gi, step = self._projected_step(weight, suffix, x, h_mask)  # gi: (T, B, G*H)
        if self.layer_norm or not torch.is_grad_enabled():  # nothing to save for a backward
            return self._run_steps((gi, step), state, mask)
        bias_hh = weight.get("bias_hh") if self.recurrent_bias_apart else None  # else in gi
        return bptt.run(
            self.kernel, gi, state, weight["weight_hh"], bias_hh, weight.get("weight_hr"),
            mask, h_mask,
        )  # fmt: skip

    def _projected_step(
        self, weight: dict[str, Tensor], suffix: str, x: Tensor, h_mask: Tensor | None
    ) -> tuple[Tensor, StepFn]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {
            "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
            "bidirectional": False, "proj_size": 0, "recurrent_dropout": 0.0, "layer_norm": False,
        }  # fmt: skip
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


def _time_steps(input: object, batch_first: bool) -> int | None:
    """T of a forward's input (None when the input is malformed; forward reports that)."""
    if isinstance(input, PackedSequence):
        return len(input.batch_sizes)
    if isinstance(input, Tensor) and input.dim() in (2, 3):
        return input.shape[1] if batch_first and input.dim() == 3 else input.shape[0]
    return None


def _user_cell_step(
    module: nn.Module, has_cell_state: bool, x_t: Tensor, state: tuple[Tensor, ...]
) -> tuple[Tensor, ...]:
    """Call a user cell as torch's cells are called: module(x_t, h) or module(x_t, (h, c))."""
    if has_cell_state:
        h_next, c_next = module(x_t, (state[0], state[1]))
        return h_next, c_next
    return (module(x_t, state[0]),)


def _folded_bias(weight: dict[str, Tensor]) -> Tensor | None:
    """b_ih + b_hh: both are added to the same pre-activation in SimpleRNN and LSTM."""
    return weight["bias_ih"] + weight["bias_hh"] if "bias_ih" in weight else None


class RNN(_RecurrentLayer):
    """Elman RNN layers, h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh): torch.nn.RNN's drop-in.

    Keyword-only extras: recurrent_dropout, layer_norm, cell, implementation (module docstring).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **options: object,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            nonlinearity=nonlinearity, **options,  # type: ignore[arg-type]
        )  # fmt: skip

    @property
    def kernel(self) -> str:
        return f"rnn_{self.nonlinearity}"

    def _projected_step(
        self, weight: dict[str, Tensor], suffix: str, x: Tensor, h_mask: Tensor | None
    ) -> tuple[Tensor, StepFn]:
        gi = cells.input_projection(
            x, weight["weight_ih"], _folded_bias(weight), self._norm("ln_ih", suffix)
        )
        w_hh, norm_hh, nonlinearity = (
            weight["weight_hh"],
            self._norm("ln_hh", suffix),
            self.nonlinearity,
        )

        def step(gi_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return (
                cells.simple_rnn_step(gi_t, state[0], w_hh, None, nonlinearity, norm_hh, h_mask),
            )

        return gi, step


class LSTM(_RecurrentLayer):
    """LSTM layers (gates i, f, g, o; optional projection proj_size): torch.nn.LSTM's drop-in.

    Keyword-only extras: recurrent_dropout, layer_norm, cell, implementation (module docstring).
    """

    num_gates = 4
    has_cell_state = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        **options: object,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            proj_size, **options,  # type: ignore[arg-type]
        )  # fmt: skip

    @property
    def kernel(self) -> str:
        return "lstm"

    def _projected_step(
        self, weight: dict[str, Tensor], suffix: str, x: Tensor, h_mask: Tensor | None
    ) -> tuple[Tensor, StepFn]:
        gi = cells.input_projection(
            x, weight["weight_ih"], _folded_bias(weight), self._norm("ln_ih", suffix)
        )
        w_hh, w_hr = weight["weight_hh"], weight.get("weight_hr")
        norm_hh, norm_c = self._norm("ln_hh", suffix), self._norm("ln_c", suffix)

        def step(gi_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return cells.lstm_step(
                gi_t, state[0], state[1], w_hh, None, w_hr, norm_hh, norm_c, h_mask
            )

        return gi, step


class GRU(_RecurrentLayer):
    """GRU layers (gates r, z, n): torch.nn.GRU's drop-in.

    Keyword-only extras: recurrent_dropout, layer_norm, cell, implementation (module docstring).
    """

    num_gates = 3
    recurrent_bias_apart = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **options: object,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            **options,  # type: ignore[arg-type]
        )  # fmt: skip

    @property
    def kernel(self) -> str:
        return "gru"

    def _projected_step(
        self, weight: dict[str, Tensor], suffix: str, x: Tensor, h_mask: Tensor | None
    ) -> tuple[Tensor, StepFn]:
        gi = cells.input_projection(
            x, weight["weight_ih"], weight.get("bias_ih"), self._norm("ln_ih", suffix)
        )
        w_hh, b_hh, norm_hh = (
            weight["weight_hh"],
            weight.get("bias_hh"),
            self._norm("ln_hh", suffix),
        )

        def step(gi_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return (cells.gru_step(gi_t, state[0], w_hh, b_hh, norm_hh, h_mask),)

        return gi, step


LAYERS: dict[str, type[_RecurrentLayer]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}  # by cell name
