"""PyTorch's own ModuleInfo tests for RNN, GRU, LSTM, RNNCell, GRUCell, LSTMCell, with rnnkit's
classes in place of torch's.

Ported from pytorch/pytorch ``test/test_modules.py`` (TestModule: test_forward,
test_factory_kwargs, test_errors, test_non_contiguous_tensors, test_grad, test_gradgrad,
test_repr, test_pickle, meta-device construction), driven by the sample inputs and error inputs
that torch ships in ``torch/testing/_internal/common_modules.py``
(``module_inputs_torch_nn_RNN_GRU``, ``module_inputs_torch_nn_LSTM``,
``module_inputs_torch_nn_RNN_GRU_Cell``, ``module_inputs_torch_nn_LSTMCell`` and their
``module_error_inputs_*``); BSD-3-Clause, (c) PyTorch contributors. Adapted: pytest instead of
torch's device-type test instantiation, CPU only; outputs are also compared with torch.nn's own
module holding the same weights; test_errors checks torch's exception type and its message
regex, which rnnkit's messages carry in parentheses after their own (argument, value,
expectation). Importing common_modules needs the ``expecttest`` package (dev extra).
"""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

import rnnkit.nn as rnn

common_modules = pytest.importorskip("torch.testing._internal.common_modules")
common_utils = pytest.importorskip("torch.testing._internal.common_utils")
# upstream's gradcheck helpers: batched gradients checked too (check_batched_grad=True)
gradcheck, gradgradcheck = common_utils.gradcheck, common_utils.gradgradcheck

RNNKIT = {
    nn.RNN: rnn.RNN, nn.GRU: rnn.GRU, nn.LSTM: rnn.LSTM,
    nn.RNNCell: rnn.RNNCell, nn.GRUCell: rnn.GRUCell, nn.LSTMCell: rnn.LSTMCell,
}  # fmt: skip
INFOS = {info.module_cls: info for info in common_modules.module_db if info.module_cls in RNNKIT}
NAMES = [cls.__name__ for cls in INFOS]


def _info(name: str):
    return next(info for cls, info in INFOS.items() if cls.__name__ == name)


def _samples(name: str, dtype=torch.float64, requires_grad=False, training=True):
    info = _info(name)
    return info.module_inputs_func(
        info, device="cpu", dtype=dtype, requires_grad=requires_grad, training=training
    )


def _build(name: str, sample, dtype=torch.float64, training=True):
    """(torch.nn module, rnnkit module) with the same weights."""
    cls = next(c for c in INFOS if c.__name__ == name)
    args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
    ref = cls(*args, **kwargs).to(dtype).train(training)
    mine = RNNKIT[cls](*args, **kwargs).to(dtype).train(training)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def _flat(output) -> list[torch.Tensor]:
    return torch.utils._pytree.tree_flatten(output)[0]


def test_all_six_modules_have_module_infos() -> None:
    assert sorted(NAMES) == ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_forward(name, dtype) -> None:
    """test_forward: the no-batch-dim reference, and torch.nn's output with the same weights."""
    for sample in _samples(name, dtype):
        ref, mine = _build(name, sample, dtype)
        args, kwargs = sample.forward_input.args, sample.forward_input.kwargs
        with common_utils.freeze_rng_state():
            got = mine(*args, **kwargs)
        if sample.reference_fn is not None:
            torch.testing.assert_close(got, sample.reference_fn(mine, *args, **kwargs))
        torch.testing.assert_close(got, ref(*args, **kwargs))


@pytest.mark.parametrize("name", NAMES)
def test_factory_kwargs(name) -> None:
    for sample in _samples(name):
        args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
        cls = RNNKIT[next(c for c in INFOS if c.__name__ == name)]
        m = cls(*args, **kwargs, device="cpu", dtype=torch.float64)
        assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in m.parameters())
        with torch.device("meta"):
            meta = cls(*args, **kwargs)
        assert all(p.is_meta for p in meta.parameters())
        shapes = [(n, p.shape) for n, p in m.named_parameters()]
        assert shapes == [(n, p.shape) for n, p in meta.named_parameters()]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_errors(name, dtype, training) -> None:
    """test_errors: each error input raises an instance of torch's exception type, and the
    message contains torch's sentence (error_regex) after rnnkit's own."""
    info = _info(name)
    cls = RNNKIT[info.module_cls]
    errors = info.module_error_inputs_func(
        info, device="cpu", dtype=dtype, requires_grad=False, training=training
    )
    assert errors
    construction = common_modules.ModuleErrorEnum.CONSTRUCTION_ERROR
    for error in errors:
        sample = error.module_error_input
        args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
        with pytest.raises(error.error_type, match=error.error_regex):
            if error.error_on == construction:
                cls(*args, **kwargs)
            else:
                m = cls(*args, **kwargs).train(training)
                m(*sample.forward_input.args, **sample.forward_input.kwargs)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_tensors(name, training) -> None:
    """Non-contiguous inputs give the same outputs and gradients as contiguous ones."""
    for sample in _samples(name, requires_grad=True, training=training):
        _, mine = _build(name, sample, training=training)
        args = sample.forward_input.args

        def strided(t: torch.Tensor) -> torch.Tensor:
            out = torch.repeat_interleave(t.detach(), 2, dim=-1)[..., ::2]
            return out.requires_grad_(t.requires_grad)

        results = []
        for inputs in (args, torch.utils._pytree.tree_map(strided, args)):
            mine.zero_grad()
            outputs = _flat(mine(*inputs))
            grads = torch.autograd.grad(
                sum((o * o.detach().cos()).sum() for o in outputs),
                [*_flat(inputs), *mine.parameters()],
            )
            results.append((outputs, grads))
        torch.testing.assert_close(results[0], results[1])


def _gradient_check(name: str, training: bool, check, every: int = 1) -> None:
    """_test_gradients_helper: the total derivative over input and parameters, then (first
    order, first sample) the partial derivative for each parameter alone (the others frozen)."""
    for index, sample in enumerate(_samples(name, requires_grad=True, training=training)):
        if index % every:
            continue
        _, m = _build(name, sample, training=training)
        args, params = sample.forward_input.args, tuple(m.parameters())
        flat, spec = torch.utils._pytree.tree_flatten(args + params)
        count = len(args)

        def fn(*flat_input, m=m, spec=spec, count=count):
            inputs = torch.utils._pytree.tree_unflatten(list(flat_input), spec)
            with common_utils.freeze_rng_state():
                return tuple(_flat(m(*inputs[:count])))

        assert check(fn, flat, fast_mode=True)
        if index == 0 and check is gradcheck:
            for p in params:
                p.requires_grad_(False)
            for p in params:
                p.requires_grad_(True)
                assert check(fn, flat, fast_mode=True)
                p.requires_grad_(False)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_grad(name, training) -> None:
    _gradient_check(name, training, gradcheck)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_gradgrad(name, training) -> None:
    """Second derivatives on a spread of the samples (every fifth; all for the cells)."""
    _gradient_check(name, training, gradgradcheck, every=1 if name.endswith("Cell") else 5)


@pytest.mark.parametrize("name", NAMES)
def test_repr_pickle_and_deepcopy(name) -> None:
    for sample in _samples(name):
        _, mine = _build(name, sample)
        assert type(mine).__name__ in repr(mine)
        args = sample.forward_input.args
        want = mine(*args)
        for twin in (pickle.loads(pickle.dumps(mine)), copy.deepcopy(mine)):
            torch.testing.assert_close(twin(*args), want)
