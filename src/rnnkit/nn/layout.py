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
and ``_flat_weights`` (the tensors in flat order). ``_flat_weights`` is looked up by name at
each access, so it always holds the tensors the module holds now: after ``.to()``,
``load_state_dict``, ``weight_norm``/``spectral_norm`` (hooks that reassign a weight), pruning
and parametrizations, exactly what both paths compute with.
"""

from __future__ import annotations

import math

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

    def _make_parameters(self, device: torch.device | None, dtype: torch.dtype | None) -> None:
        gates = self.num_gates * self.hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for index, suffix in enumerate(self._suffixes()):
            shapes = {
                "weight_ih": (gates, self._layer_input_size(index // self.num_directions)),
                "weight_hh": (gates, self.output_size),
            }
            if self.bias:
                shapes |= {"bias_ih": (gates,), "bias_hh": (gates,)}
            if self.proj_size:
                shapes["weight_hr"] = (self.proj_size, self.hidden_size)
            names = [name + suffix for name in shapes]
            for name, shape in zip(names, shapes.values(), strict=True):
                tensor = torch.empty(shape, device=device, dtype=dtype)
                self.register_parameter(name, nn.Parameter(tensor))
            self._flat_weights_names.extend(names)
            self._all_weights.append(names)

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
        for weight in self._flat_weights:
            nn.init.uniform_(weight, -bound, bound)
        for name, param in self.named_parameters():
            if name.startswith("ln_"):
                nn.init.constant_(param, 1.0 if "_weight_" in name else 0.0)

    @property
    def _flat_weights(self) -> list[Tensor]:
        """The recurrent weights in torch.nn's flat order (what the fused kernels take)."""
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def flat_weights(self) -> list[Tensor]:
        """Alias of ``_flat_weights``: per layer direction w_ih, w_hh[, b_ih, b_hh][, w_hr]."""
        return self._flat_weights

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
        weights = [getattr(self, name, None) for name in self._flat_weights_names]
        if not all(isinstance(w, Tensor) for w in weights):  # one deleted, as torch.nn allows
            return
        if not weights or len({w.data_ptr() for w in weights}) != len(weights):  # type: ignore[union-attr]
            return
        first = weights[0]
        if not all(
            isinstance(w, nn.Parameter) and w.is_cuda and w.dtype == first.dtype
            and torch.backends.cudnn.is_acceptable(w)
            for w in weights
        ):  # fmt: skip
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
        """Module.to/cuda/half...; then re-flatten the weights for cuDNN (as torch.nn does)."""
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result
