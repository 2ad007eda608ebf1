"""Parameters of the recurrent layers in torch.nn's layout: names, shapes, order, initialisation.

Dimensions: L layers, dirs = 2 if bidirectional else 1, G gates (1 RNN, 4 LSTM, 3 GRU),
H hidden units, P = proj_size, H_out = P or H, D_l = input_size for layer 0, dirs*H_out after.

Per layer l and direction (suffix ``_l{l}`` or ``_l{l}_reverse``), in torch.nn's flat order:
``weight_ih`` (G*H, D_l), ``weight_hh`` (G*H, H_out), ``bias_ih`` (G*H,), ``bias_hh`` (G*H,)
(with ``bias``), ``weight_hr`` (P, H) (LSTM with ``proj_size``); all drawn from
U(-1/sqrt(H), 1/sqrt(H)) like torch.nn's. With ``layer_norm``, ``ln_ih_{weight,bias}`` and
``ln_hh_{weight,bias}`` (G*H,) and, for LSTM, ``ln_c_{weight,bias}`` (H,), initialised to 1 and 0.

The attributes that torch code reads on torch.nn.RNNBase exist here too: ``_flat_weights_names``,
``_all_weights`` (names per layer direction), ``all_weights`` (the tensors per layer direction)
and ``_flat_weights`` (the tensors in flat order), with torch.nn's semantics: a plain list
(with ``_flat_weight_refs``, ``_init_flat_weights``, ``_weights_have_changed`` and
``_update_flat_weights``) that assigning a weight by name updates (weight_norm, pruning), that
``.to()`` and unpickling rebuild, and that each forward rebuilds when a weight attribute is no
longer the tensor it was built from (parametrizations, functional_call); code that sets or
edits the list itself is obeyed until then, as with torch.nn. Both paths compute with it.
"""

from __future__ import annotations

import math
import weakref
from typing import ClassVar

import torch
from torch import Tensor, nn


class RecurrentParameters(nn.Module):
    """Parameter layout shared by RNN, LSTM and GRU (mixed into the layers)."""

    num_gates = 1
    has_cell_state = False
    kind = ""  # the kind key: "rnn_tanh" | "rnn_relu" | "lstm" | "gru" (fused and bptt use it)
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    proj_size: int
    num_directions: int
    output_size: int  # H_out
    batch_first: bool
    user_cell: bool
    layer_norm: bool
    _flat_weights_names: list[str]
    _all_weights: list[list[str]]
    _flat_weights: list[Tensor | None]
    _flat_weight_refs: list[weakref.ReferenceType[Tensor] | None]
    # what a pickle made before an option existed lacks (proj_size: as torch.nn fills it in)
    _STATE_DEFAULTS: ClassVar[dict[str, object]] = {
        "proj_size": 0, "recurrent_dropout": 0.0, "layer_norm": False, "user_cell": False,
        "implementation": "auto", "last_path": None,
    }  # fmt: skip

    @property
    def kernel(self) -> str:
        """Alias of :attr:`kind` (the name of torch's fused kernel for this layer)."""
        return self.kind

    def _layer_input_size(self, layer: int) -> int:
        return self.input_size if layer == 0 else self.output_size * self.num_directions

    def _suffixes(self) -> list[str]:
        """'_l0', '_l0_reverse', '_l1', ... in torch.nn's order (index = layer * dirs + dir)."""
        directions = ["", "_reverse"][: self.num_directions]
        return [f"_l{layer}{d}" for layer in range(self.num_layers) for d in directions]

    def _weight_shapes(self) -> list[dict[str, tuple[int, ...]]]:
        """Per layer direction, in torch.nn's flat order: full weight name -> shape."""
        gates = self.num_gates * self.hidden_size
        layout = []
        for index, suffix in enumerate(self._suffixes()):
            shapes = {
                "weight_ih": (gates, self._layer_input_size(index // self.num_directions)),
                "weight_hh": (gates, self.output_size),
            }
            if self.bias:
                shapes |= {"bias_ih": (gates,), "bias_hh": (gates,)}
            if self.proj_size:
                shapes["weight_hr"] = (self.proj_size, self.hidden_size)
            layout.append({name + suffix: shape for name, shape in shapes.items()})
        return layout

    def _make_parameters(self, device: torch.device | None, dtype: torch.dtype | None) -> None:
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for shapes in self._weight_shapes():
            for name, shape in shapes.items():
                tensor = torch.empty(shape, device=device, dtype=dtype)
                self.register_parameter(name, nn.Parameter(tensor))
            self._flat_weights_names.extend(shapes)
            self._all_weights.append(list(shapes))

    def _make_layer_norms(self, device: torch.device | None, dtype: torch.dtype | None) -> None:
        gates = self.num_gates * self.hidden_size
        sizes = {"ln_ih": gates, "ln_hh": gates} | (
            {"ln_c": self.hidden_size} if self.has_cell_state else {}
        )
        for suffix in self._suffixes():
            for name, size in sizes.items():
                ones = torch.ones(size, device=device, dtype=dtype)
                self.register_parameter(f"{name}_weight{suffix}", nn.Parameter(ones))
                self.register_parameter(f"{name}_bias{suffix}", nn.Parameter(torch.zeros_like(ones)))

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every recurrent weight, in torch.nn's order; layer-norm
        gains 1 and biases 0; a user cell's own ``reset_parameters``."""
        if self.user_cell:
            for cell in self.cells:
                if hasattr(cell, "reset_parameters"):
                    cell.reset_parameters()
            return
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self._current_weights():
            if weight is not None:
                nn.init.uniform_(weight, -bound, bound)
        for name, param in self.named_parameters():
            if name.startswith("ln_"):
                nn.init.constant_(param, 1.0 if "_weight_" in name else 0.0)

    # torch.nn.RNNBase keeps ``_flat_weights`` as a plain list, refreshed when a weight is
    # assigned (__setattr__), after .to() and unpickling, and at each forward when a weight
    # attribute is no longer the tensor it held (parametrizations, functional_call); code that
    # sets or edits the list itself is obeyed until then. The same here.
    def _current_weights(self) -> list[Tensor | None]:
        """The module's weights now, by name, in flat order (None for a deleted one); a
        parametrized weight is computed once here."""
        return [getattr(self, name, None) for name in self._flat_weights_names]

    def _init_flat_weights(self, weights: list[Tensor | None] | None = None) -> None:
        """Set ``_flat_weights`` to ``weights`` (default: the module's weights now) and remember
        them (``_flat_weight_refs``, weak references), as torch.nn.RNNBase does."""
        self._flat_weights = self._current_weights() if weights is None else weights
        self._flat_weight_refs = [None if w is None else weakref.ref(w) for w in self._flat_weights]

    def _weights_have_changed(self, weights: list[Tensor | None] | None = None) -> bool:
        """Whether any weight attribute (``weights``: as looked up now) is no longer the tensor
        ``_flat_weights`` was built from (torch.nn's test: a missing or new weight is not)."""
        weights = self._current_weights() if weights is None else weights
        for weight, ref in zip(weights, self._flat_weight_refs, strict=False):
            if weight is not None and ref is not None and ref() is not weight:
                return True
        return False

    def _update_flat_weights(self) -> list[Tensor | None]:
        """``_flat_weights`` for a forward: rebuilt when a weight changed (each weight looked up
        once, so a parametrization runs once per forward)."""
        weights = self._current_weights()
        if self._weights_have_changed(weights):
            self._init_flat_weights(weights)
        return self._flat_weights

    def __setattr__(self, name: str, value: object) -> None:
        """Module's assignment; a weight assigned by name also replaces its ``_flat_weights``
        entry, as in torch.nn (weight_norm and pruning assign their weights so)."""
        super().__setattr__(name, value)
        names = self.__dict__.get("_flat_weights_names")
        if names and name in names and "_flat_weights" in self.__dict__:
            self._flat_weights[names.index(name)] = value  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, object]:
        """The module's state without ``_flat_weights`` and its weak references (rebuilt from
        the weights when unpickled, as torch.nn rebuilds them)."""
        state = self.__dict__.copy()
        state.pop("_flat_weight_refs", None)
        state.pop("_flat_weights", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickle; pickles from before ``_flat_weights`` was a list, or without an option
        added since, get its default (as torch.nn gives old LSTMs ``proj_size = 0``)."""
        super().__setstate__(state)
        for name, default in self._STATE_DEFAULTS.items():
            if name not in state:
                setattr(self, name, default)
        if "_flat_weights_names" not in state:
            names = [] if self.user_cell else [list(shapes) for shapes in self._weight_shapes()]
            self._all_weights = names
            self._flat_weights_names = [name for layer in names for name in layer]
        self._init_flat_weights()

    def _replicate_for_data_parallel(self):  # type: ignore[no-untyped-def]
        """nn.DataParallel's replica, with its own ``_flat_weights`` list (as torch.nn's)."""
        replica = super()._replicate_for_data_parallel()
        replica._flat_weights = list(replica._flat_weights)
        replica._flat_weights_names = list(replica._flat_weights_names)
        return replica

    @property
    def flat_weights(self) -> list[Tensor]:
        """The weights a forward computes with now (``_flat_weights``, refreshed as a forward
        refreshes it): per layer direction w_ih, w_hh[, b_ih, b_hh][, w_hr]."""
        return self._update_flat_weights()  # type: ignore[return-value]

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The weights per layer direction, as torch.nn's ``all_weights``."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Put the weights in one contiguous cuDNN buffer, as torch.nn's does; else a no-op.

        Only on a CUDA device with cuDNN (and one dtype, no aliased weights): the parameters
        then become views into one buffer, so cuDNN does not compact them on every call.
        Runs after every ``.to()`` / ``.cuda()`` (see ``_apply``).
        """
        if self.user_cell:
            return
        weights = self._current_weights()
        if not all(isinstance(w, Tensor) for w in weights):  # one deleted, as torch.nn allows
            return
        first = weights[0] if weights else None
        if first is None or not all(
            isinstance(w, nn.Parameter) and w.is_cuda and w.dtype == first.dtype
            and torch.backends.cudnn.is_acceptable(w)
            for w in weights
        ):  # fmt: skip
            return  # CUDA first, as torch.nn: a CPU, meta or fake tensor's data_ptr is not read
        if len({w.data_ptr() for w in weights}) != len(weights):  # type: ignore[union-attr]
            return
        from torch.backends.cudnn import rnn as cudnn_rnn  # importable only where torch has CUDA

        with torch.cuda.device_of(first), torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                weights_per_layer = (4 if self.bias else 2) + (1 if self.proj_size else 0)
                torch._cudnn_rnn_flatten_weight(
                    weights, weights_per_layer, self.input_size,
                    cudnn_rnn.get_cudnn_mode(self.kind.upper()), self.hidden_size,
                    self.proj_size, self.num_layers, self.batch_first, self.num_directions == 2,
                )  # fmt: skip

    def _apply(self, fn, recurse: bool = True):  # type: ignore[no-untyped-def]
        """Module.to/cuda/half...; then ``_flat_weights`` anew and the weights re-flattened for
        cuDNN (as torch.nn does)."""
        self._flat_weight_refs = []  # swap_tensors (swap_module_params_on_conversion) refuses
        result = super()._apply(fn, recurse)  # tensors that have weak references
        self._init_flat_weights()
        self.flatten_parameters()
        return result
