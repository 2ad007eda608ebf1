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

Refused (:class:`rnnkit.errors.InvalidArgumentError`, a ValueError): rnnkit's options
with no torch.nn counterpart (``layer_norm``, ``recurrent_dropout``, a user ``cell``) and weights
rewritten by ``weight_norm``, parametrizations or pruning (torch.nn's scripted module would hold
a snapshot of them, not the rewrite).
"""

from __future__ import annotations

import warnings

from torch import nn

from rnnkit.errors import invalid


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

