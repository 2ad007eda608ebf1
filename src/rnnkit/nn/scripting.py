"""``torch.jit.script`` for rnnkit's layers and cells: it compiles torch.nn's module of the same
kind in their place, holding the very same parameters.

rnnkit's forward dispatches on Python objects (PackedSequence, options, user cells) and raises
rnnkit's own exception types, which TorchScript cannot compile. torch.jit.script calls a
module's ``__prepare_scriptable__`` first and compiles what it returns (torchvision swaps in
scriptable variants the same way): rnnkit's modules return :func:`torch_twin`, a torch.nn
``RNN``/``LSTM``/``GRU`` or cell built with the same arguments whose parameters *are* this
module's (same Parameter objects: training the scripted module trains this one, and state_dicts
are the same). The twin computes what rnnkit computes (torch's kernels; the same functions to
float rounding, see docs/torch-differences.md). As for any ``__prepare_scriptable__``,
``torch.jit.script(parent)`` also puts the twin in ``parent``'s own module tree.

``torch.jit.ScriptModule`` subclasses (the ``@torch.jit.script_method`` API) compile their
submodules when their ``__init__`` returns, without calling ``__prepare_scriptable__``: a global
module-registration hook (:func:`script_module_registration_hook`) gives them the twin as the
module is assigned (also one inside a container assigned to them), so they compile as they do
with torch.nn's modules.

Refused (:class:`rnnkit.errors.InvalidArgumentError`, a ValueError): rnnkit's options
with no torch.nn counterpart (``layer_norm``, ``recurrent_dropout``, a user ``cell``) and weights
rewritten by ``weight_norm``, parametrizations or pruning (torch.nn's scripted module would hold
a snapshot of them, not the rewrite).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.fx import Proxy
from torch.nn.modules import rnn as torch_rnn
from torch.nn.modules.module import register_module_module_registration_hook

from rnnkit.errors import invalid

# torch.nn's classes, taken from their own module once: code that puts rnnkit's classes in
# torch.nn's place (``torch.nn.LSTM = rnnkit.nn.LSTM``) still gets torch's twins
TORCH_CLASSES: dict[str, type[nn.Module]] = {
    name: getattr(torch_rnn, name) for name in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
}


def torch_twin(
    module: nn.Module, torch_cls: type[nn.Module], weight_names: list[str], extras: dict[str, bool],
    *args: object, **kwargs: object,
) -> nn.Module:  # fmt: skip
    """torch.nn's ``torch_cls(*args, **kwargs)`` holding ``module``'s parameters
    ``weight_names``, its training mode and its forward hooks; ``extras``: rnnkit's options by
    name, refused when set."""
    used = [name for name, on in extras.items() if on]
    if used:
        raise invalid(
            "torch.jit.script", f"{type(module).__name__} with {', '.join(used)}", "no rnnkit-only"
            " option (torch.nn has no module to compile for it; torch.jit.trace and"
            " torch.compile take it)",
        )  # fmt: skip
    weights = {name: getattr(module, name, None) for name in weight_names}
    rewritten = [name for name, w in weights.items() if not isinstance(w, nn.Parameter)]
    if rewritten:
        raise invalid(
            "torch.jit.script", f"{type(module).__name__}'s {', '.join(rewritten)}", "parameters,"
            " not weights rewritten by weight_norm, a parametrization or pruning",
        )  # fmt: skip
    with warnings.catch_warnings():  # torch.nn's own constructor warnings were rnnkit's already
        warnings.simplefilter("ignore")
        twin = torch_cls(*args, **kwargs, device="meta")
    for name, weight in weights.items():
        setattr(twin, name, weight)
    if hasattr(twin, "_init_flat_weights"):
        twin._init_flat_weights()
    twin._forward_hooks = module._forward_hooks
    twin._forward_pre_hooks = module._forward_pre_hooks
    return twin.train(module.training)


SCRIPTABLE: list[type[nn.Module]] = []  # rnnkit's base classes with a __prepare_scriptable__


def _twin_or_none(module: nn.Module) -> nn.Module | None:
    """``module``'s torch.nn twin if it is one of rnnkit's layers or cells, else None."""
    if isinstance(module, tuple(SCRIPTABLE)):
        return module.__prepare_scriptable__()
    return None


def script_module_registration_hook(
    parent: nn.Module, name: str, module: nn.Module | None
) -> nn.Module | None:
    """Registered for every ``nn.Module.__setattr__``/``add_module`` of a submodule: for a
    ``torch.jit.ScriptModule`` still in its ``__init__`` (it compiles its submodules when that
    returns), return the torch.nn twin of an rnnkit module, and put twins in place of rnnkit
    modules inside an assigned container; None (no change) for any other assignment."""
    if (
        module is None
        or not isinstance(parent, torch.jit.ScriptModule)
        or isinstance(parent, torch.jit.RecursiveScriptModule)
        or "_actual_script_module" in parent.__dict__
    ):
        return None
    twin = _twin_or_none(module)
    if twin is not None:
        return twin
    for owner in module.modules():
        for key, child in owner._modules.items():
            twin = _twin_or_none(child) if child is not None else None
            if twin is not None:
                owner._modules[key] = twin
    return None


register_module_module_registration_hook(script_module_registration_hook)


def fx_leaf(forward: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate the ``forward(self, input, ...)`` of rnnkit's layers and cells: under
    ``torch.fx`` symbolic tracing (``input`` is a Proxy) the call becomes the ``call_module``
    node, with the arguments as called, that the tracer records for torch.nn's modules, its
    default leaves; any other call, and the traced root itself (traced into, as torch.nn's
    would be), runs ``forward``."""

    @functools.wraps(forward)
    def leaf_under_fx(module: nn.Module, input: object, *args: object, **kwargs: object) -> Any:
        if isinstance(input, Proxy):
            path = input.tracer.path_of_module(module)
            if path:
                return input.tracer.create_proxy("call_module", path, (input, *args), kwargs)
        return forward(module, input, *args, **kwargs)

    return leaf_under_fx
