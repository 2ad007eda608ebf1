"""PyTorch's own recurrent-module tests not ported elsewhere, with rnnkit.nn's classes in place of
torch.nn's (torch.nn's modules kept as the reference where a test compares two modules).

Ported from pytorch/pytorch (BSD-3-Clause, (c) PyTorch contributors):

- ``test/test_nn.py``: test_RNN_nonlinearity, test_RNN_cell, test_RNN_cell_forward_zero_hidden_size,
  test_rnn_weight_norm (the projection case), test_RNN_dropout (exactly, both paths),
  test_projections_lstm_initial_hidden_state, test_projections_lstm_args_check,
  test_projections_errors_on_gru_and_rnn (torch's message), test_cudnn_weight_format (its
  weights-moved-to-new-storage part, on the CPU), _test_RNN_cpu_vs_cudnn (test_RNN_cpu_vs_cudnn_no_dropout,
  _with_dropout and test_rnn_fused, with torch.nn on the CPU as the reference instead of cuDNN),
  test_LSTM_grad_and_gradgrad, test_GRU_grad_and_gradgrad, test_save_lstm_compatibility,
  test_pack_sequence_batch_sizes_throw;
- ``test/test_autograd.py``: test_rnn_backward_to_input_but_not_parameters;
- ``test/test_modules.py``: test_to (swap and set_grad variants), test_to_empty, and the
  PackedSequence sample inputs (``with_packed_sequence=True``, used by test_cpu_gpu_parity);
- ``test/test_jit.py`` and ``test/jit/test_models.py``: test_rnn_trace_override,
  test_time_sequence_prediction (a ``torch.jit.ScriptModule`` with ``@script_method`` holding
  cells), test_snli (a traced bidirectional LSTM encoder, saved and loaded);
- ``test/functorch``: per-sample gradients (``vmap(grad(functional_call))``), ``jacfwd`` and
  ``hessian`` through the layers, ``vmap`` over the cells and over the layers.

Beyond PyTorch's recurrent tests: ``torch.fx.symbolic_trace`` gives a model holding rnnkit's
modules the graph it gives with torch.nn's (a ``call_module`` leaf node).

Adapted: pytest instead of torch's device-type instantiation, CPU only, small sizes.
"""

from __future__ import annotations

import io
import itertools
import warnings
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as rnn_utils
from torch import nn
from torch.autograd import gradcheck, gradgradcheck
from torch.func import functional_call, grad, hessian, jacfwd, vmap
from torch.testing import assert_close

import rnnkit.nn as rnn

LAYERS = ["RNN", "LSTM", "GRU"]
PATHS = ["auto", "loop"]


def pair(name: str, *args, **kwargs) -> tuple[nn.Module, nn.Module]:
    """(torch.nn module, rnnkit module) built alike, in float64, with torch.nn's weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch.manual_seed(0)
        ref = getattr(nn, name)(*args, **kwargs).double()
        mine = getattr(rnn, name)(*args, **kwargs).double()
    mine.load_state_dict(ref.state_dict())
    return ref, mine


# --- test_nn.py: TestNN ---------------------------------------------------------------------


def test_rnn_nonlinearity() -> None:
    """test_RNN_nonlinearity and test_RNN_nonlinearity_passed_as_arg."""
    assert rnn.RNN(1, 10).nonlinearity == "tanh"
    assert rnn.RNN(1, 10, nonlinearity="relu").nonlinearity == "relu"
    assert rnn.RNN(2, 3, 1, "relu").nonlinearity == "relu"
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        rnn.RNN(1, 10, nonlinearity="garbage")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cell_type", [rnn.RNNCell, rnn.GRUCell])
def test_rnn_cell_smoke(cell_type, bias) -> None:
    """test_RNN_cell: six steps of a cell, then backward."""
    cell = cell_type(10, 20, bias=bias)
    x, hx = torch.randn(3, 10), torch.randn(3, 20)
    for _ in range(6):
        hx = cell(x, hx)
    hx.sum().backward()
    assert all(p.grad is not None for p in cell.parameters())


def test_rnn_cell_forward_zero_hidden_size() -> None:
    """test_RNN_cell_forward_zero_hidden_size."""
    x, hx = torch.randn(3, 10), torch.randn(3, 0)
    for cell in (rnn.RNNCell(10, 0, nonlinearity="relu"), rnn.RNNCell(10, 0, nonlinearity="tanh"),
                 rnn.GRUCell(10, 0)):  # fmt: skip
        assert cell(x, hx).shape == torch.Size([3, 0])


def test_rnn_weight_norm_on_the_projection() -> None:
    """test_rnn_weight_norm, LSTM(32, 32, proj_size=16) with weight_norm on weight_hr_l0."""
    layer = rnn.LSTM(32, 32, proj_size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        layer = torch.nn.utils.weight_norm(layer, name="weight_hr_l0")
    assert sum(isinstance(p, nn.Parameter) for p in layer._flat_weights) == 4
    layer = torch.nn.utils.remove_weight_norm(layer, name="weight_hr_l0")
    assert sum(isinstance(p, nn.Parameter) for p in layer._flat_weights) == 5
    named = dict(layer.named_parameters())
    assert layer._parameters["weight_hr_l0"] is not None and named["weight_hr_l0"] is not None
    assert not {"weight_hr_l0_v", "weight_hr_l0_g"} & (set(named) | set(layer._parameters))


@pytest.mark.parametrize("implementation", PATHS)
def test_rnn_dropout_exactly_as_torch(implementation) -> None:
    """test_RNN_dropout, its assertions unchanged (default dtype float64)."""
    for p, train in itertools.product((0, 0.276, 0.731, 1), (True, False)):
        layer = rnn.RNN(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu",
                        implementation=implementation, dtype=torch.float64)  # fmt: skip
        layer.train(train)
        with torch.no_grad():
            for w in (layer.weight_ih_l0, layer.weight_hh_l0, layer.weight_ih_l1, layer.weight_hh_l1):
                w.fill_(1)
        x = torch.ones(1, 1, 10, dtype=torch.float64)
        output, hy = layer(x, torch.zeros(2, 1, 1000, dtype=torch.float64))
        assert output.min() == output.max()
        value = output[0][0][0].item()
        if p == 0 or not train:
            assert value == 10000
        elif p == 1:
            assert value == 0
        else:
            assert 8000 < value < 12000
            denorm_mod = (value * (1 - p)) % 10
            assert min(denorm_mod, 10 - denorm_mod) < 1e-2
        assert hy[0].min() == hy[0].max() and hy[1].min() == hy[1].max()
        assert hy[0][0][0] == 10 and hy[1][0][0] == value


@pytest.mark.parametrize("bidirectional", [False, True])
def test_projections_lstm_initial_hidden_state(bidirectional) -> None:
    """test_projections_lstm_initial_hidden_state: zero states equal no states."""
    layer = rnn.LSTM(30, 20, 2, bidirectional=bidirectional, proj_size=10)
    dirs = 2 if bidirectional else 1
    x = torch.randn(10, 32, 30)
    hidden = (torch.zeros(2 * dirs, 32, 10), torch.zeros(2 * dirs, 32, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's "no oneDNN with projections"
        output1, hidden1 = layer(x, hidden)
        output2, hidden2 = layer(x)
    assert_close(output1, output2)
    assert_close(hidden1, hidden2)


def test_projections_lstm_args_check() -> None:
    """test_projections_lstm_args_check: each wrong size of input, h or c is a RuntimeError."""
    input_size, hidden_size, proj_size, num_layers, batch, time, bad = 3, 5, 2, 2, 4, 6, 7
    layer = rnn.LSTM(input_size, hidden_size, num_layers, proj_size=proj_size)
    x_shape = (time, batch, input_size)
    h_shape = (num_layers, batch, proj_size)
    c_shape = (num_layers, batch, hidden_size)

    def update(shape: tuple[int, ...], dim: int, size: int) -> tuple[int, ...]:
        return (*shape[:dim], size, *shape[dim + 1:])

    cases = [
        (update(x_shape, 1, bad), h_shape, c_shape),
        (x_shape, update(h_shape, 1, bad), update(c_shape, 1, bad)),
        (update(x_shape, 2, bad), h_shape, c_shape),
        (x_shape, update(h_shape, 2, bad), update(c_shape, 2, bad)),
        (x_shape, update(h_shape, 0, bad), update(c_shape, 0, bad)),
        (x_shape, update(h_shape, 0, hidden_size), c_shape),
        (x_shape, update(h_shape, 0, bad), c_shape),
        (x_shape, h_shape, update(c_shape, 0, bad)),
    ]
    for x, h, c in cases:
        with pytest.raises(RuntimeError):
            layer(torch.randn(x), (torch.randn(h), torch.randn(c)))


@pytest.mark.parametrize("name", ["RNN", "GRU"])
def test_projections_errors_on_gru_and_rnn(name) -> None:
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        getattr(rnn, name)(30, 20, 2, proj_size=10)


@pytest.mark.parametrize("implementation", PATHS)
@pytest.mark.parametrize(("name", "options"), [
    ("LSTM", {}), ("LSTM", {"proj_size": 10}), ("GRU", {}), ("RNN", {}),
])  # fmt: skip
def test_weights_moved_to_new_storage(name, options, implementation) -> None:
    """test_cudnn_weight_format on the CPU: after ``weight.set_(copy)`` (under no_grad) the
    outputs and gradients are unchanged, twice, and the weight shares the copy's storage."""
    layer = getattr(rnn, name)(10, 20, batch_first=True, implementation=implementation, **options)
    x = torch.randn(5, 4, 10, requires_grad=True)
    hx = torch.randn(1, 5, 20, requires_grad=True)
    all_vars = [x, hx, *layer.parameters()]
    if name == "LSTM":
        if layer.proj_size > 0:
            hx = torch.randn(1, 5, 10, requires_grad=True)
            all_vars[1] = hx
        cx = torch.randn(1, 5, 20, requires_grad=True)
        all_vars[2:2] = [cx]
        hx = (hx, cx)
    output = layer(x, hx)
    output[0].sum().backward()
    grads = [v.grad.clone() for v in all_vars]
    for v in all_vars:
        v.grad.zero_()
    weight = all_vars[4]
    weight_data = weight.data.clone()
    with torch.no_grad():
        weight.set_(weight_data)
    for _ in range(2):
        again = layer(x, hx)
        again[0].sum().backward()
        assert_close([v.grad.clone() for v in all_vars], grads)
        for v in all_vars:
            v.grad.zero_()
        assert_close(again, output)
    weight_data[:] = 4
    assert torch.equal(weight_data, all_vars[4].data)


def _make_noncontig(tensor: torch.Tensor) -> torch.Tensor:
    ndim = tensor.dim()
    return torch.stack([tensor.clone().zero_(), tensor], ndim).select(ndim, 1)


def _forward_backward(module, input_val, grad_output, weights_val, hx_val, grad_hy,
                      cx_val=None, grad_cy=None) -> dict[str, object]:  # fmt: skip
    """_test_RNN_cpu_vs_cudnn's forward_backward, unchanged but for ``mode`` instead of
    isinstance (the two modules are of different libraries)."""
    is_lstm = module.mode == "LSTM"
    for x_layer, y_layer in zip(module.all_weights, weights_val, strict=True):
        for x, y in zip(x_layer, y_layer, strict=True):
            x.data.copy_(y.data)
    if isinstance(input_val, rnn_utils.PackedSequence):
        inp = rnn_utils.PackedSequence(input_val.data.data.requires_grad_(True), input_val.batch_sizes)
        input_var = inp.data
    else:
        inp = input_val.clone().requires_grad_(True)
        input_var = inp
    if is_lstm:
        cx = hx_val if cx_val is None else cx_val
        hx = (hx_val.clone().requires_grad_(True), cx.add(1).requires_grad_(True))
    else:
        hx = hx_val.clone().requires_grad_(True)
    output, hy = module(inp, hx)
    if isinstance(output, rnn_utils.PackedSequence):
        output = output.data
    if is_lstm:
        grad_c = grad_hy + 1 if grad_cy is None else grad_cy + 1
        torch.autograd.backward([output, hy[0], hy[1]], [grad_output, grad_hy, grad_c])
    else:
        torch.autograd.backward([output, hy], [grad_output, grad_hy])
    return {
        "output": output.data, "hy": hy[0].data if is_lstm else hy.data,
        "weights": module.all_weights, "grad_input": input_var.grad.data,
        "grad_hx": hx[0].grad.data if is_lstm else hx.grad.data,
        "cy": hy[1].data if is_lstm else None, "grad_cx": hx[1].grad.data if is_lstm else None,
    }  # fmt: skip


@pytest.mark.parametrize("implementation", PATHS)
@pytest.mark.parametrize("dropout", [0, 1])
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "LSTM-proj"])
def test_rnn_against_torch_nn_on_the_cpu(name, dropout, implementation) -> None:
    """_test_RNN_cpu_vs_cudnn (test_RNN_cpu_vs_cudnn_no_dropout/_with_dropout, test_rnn_fused)
    with torch.nn on the CPU in cuDNN's place: every combination of bias, bidirectional,
    batch_first, non-contiguous tensors and packed input (lengths as a list or a tensor);
    outputs, final states and every gradient within 5e-5."""
    input_size, hidden_size, proj_size, num_layers, time, batch = 10, 6, 3, 2, 7, 6
    kind = name.split("-")[0]
    out_size = proj_size if name == "LSTM-proj" else hidden_size
    dtype = torch.float64
    for bias, bidirectional, batch_first, contig, variable_len, lens_as_tensor in itertools.product(
        (True, False), repeat=6
    ):
        dirs = 2 if bidirectional else 1
        shape = (batch, time) if batch_first else (time, batch)
        input_val = torch.randn(*shape, input_size, dtype=dtype)
        grad_output = torch.randn(*shape, out_size * dirs, dtype=dtype)
        hx_val = torch.randn(num_layers * dirs, batch, out_size, dtype=dtype)
        grad_hy = torch.randn(num_layers * dirs, batch, out_size, dtype=dtype)
        cx_val = grad_cy = None
        if name == "LSTM-proj":
            cx_val = torch.randn(num_layers * dirs, batch, hidden_size, dtype=dtype)
            grad_cy = torch.randn(num_layers * dirs, batch, hidden_size, dtype=dtype)
        if not contig:
            grad_output, grad_hy, hx_val = map(_make_noncontig, (grad_output, grad_hy, hx_val))
            if cx_val is not None:
                cx_val, grad_cy = _make_noncontig(cx_val), _make_noncontig(grad_cy)
        if variable_len:
            lengths = [7, 5, 5, 2, 1, 1]
            lengths = torch.tensor(lengths, dtype=torch.long) if lens_as_tensor else lengths
            input_val = rnn_utils.pack_padded_sequence(input_val, lengths, batch_first=batch_first)
            grad_output = rnn_utils.pack_padded_sequence(
                grad_output, lengths, batch_first=batch_first
            ).data
        options = {"bias": bias, "dropout": dropout, "bidirectional": bidirectional,
                   "batch_first": batch_first} | ({"proj_size": proj_size} if name == "LSTM-proj" else {})  # fmt: skip
        ref = getattr(nn, kind)(input_size, hidden_size, num_layers, **options).to(dtype)
        mine = getattr(rnn, kind)(
            input_size, hidden_size, num_layers, implementation=implementation, **options
        ).to(dtype)
        want = _forward_backward(ref, input_val, grad_output, ref.all_weights, hx_val, grad_hy,
                                 cx_val, grad_cy)  # fmt: skip
        got = _forward_backward(mine, input_val, grad_output, ref.all_weights, hx_val, grad_hy,
                                cx_val, grad_cy)  # fmt: skip
        assert list(got) == list(want)
        for key in want:
            if key != "weights":
                assert_close(got[key], want[key], atol=5e-5, rtol=0)
        for want_layer, got_layer in zip(want["weights"], got["weights"], strict=True):
            for want_w, got_w in zip(want_layer, got_layer, strict=True):
                assert_close(got_w.grad, want_w.grad, atol=5e-5, rtol=0)


def test_save_lstm_compatibility() -> None:
    """test_save_lstm_compatibility: an LSTM's __dict__ from before proj_size existed."""
    model = rnn.LSTM(2, 3)
    x = torch.randn(32, 5, 2)
    expected = model(x)
    assert model.proj_size == 0
    state = model.__dict__
    del state["proj_size"]
    loaded = rnn.LSTM(2, 3)
    loaded.__setstate__(state)
    assert loaded.proj_size == 0
    assert_close(loaded(x), expected)


def test_pack_sequence_batch_sizes_throw() -> None:
    with pytest.raises(ValueError, match=r"batch_sizes should always be on CPU"):
        rnn.LSTM(3, 4, bidirectional=True, num_layers=2).to("meta")
        rnn_utils.PackedSequence(torch.rand(5, 3, device="meta"),
                                 torch.tensor([1, 1, 1, 1, 1], device="meta"))  # fmt: skip


# --- test_nn.py: TestNNDeviceType; test_autograd.py -----------------------------------------


def _flatten_out(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    out = module(x)
    return tuple([t if isinstance(t, torch.Tensor) else tt for t in out for tt in t])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", LAYERS)
def test_grad_and_gradgrad(name, bias) -> None:
    """test_LSTM_grad_and_gradgrad, test_GRU_grad_and_gradgrad (and RNN): _test_rnn_mod."""
    hsize = 4
    x = torch.rand(1, 3, hsize, dtype=torch.float64, requires_grad=True)
    module = getattr(rnn, name)(hsize, hsize, bias=bias).to(torch.float64)
    assert gradcheck(partial(_flatten_out, module), x, check_batched_grad=False)
    assert gradgradcheck(partial(_flatten_out, module), x, check_batched_grad=False)


@pytest.mark.parametrize("implementation", PATHS)
@pytest.mark.parametrize("name", LAYERS)
def test_rnn_backward_to_input_but_not_parameters(name, implementation) -> None:
    """test_autograd.py's test: frozen parameters, the input still gets its gradient."""
    layer = getattr(rnn, name)(2, 3, implementation=implementation)
    for p in layer.parameters():
        p.requires_grad = False
    s = torch.randn(1, 1, 2, requires_grad=True)
    out, _ = layer(s)
    out.sum().backward()
    assert s.grad is not None and s.grad.abs().sum().item() != 0


# --- test_modules.py ------------------------------------------------------------------------

common_modules = pytest.importorskip("torch.testing._internal.common_modules")
RNNKIT = {
    nn.RNN: rnn.RNN, nn.GRU: rnn.GRU, nn.LSTM: rnn.LSTM,
    nn.RNNCell: rnn.RNNCell, nn.GRUCell: rnn.GRUCell, nn.LSTMCell: rnn.LSTMCell,
}  # fmt: skip
INFOS = [info for info in common_modules.module_db if info.module_cls in RNNKIT]
INFO_IDS = [info.module_cls.__name__ for info in INFOS]


@pytest.fixture
def swap_on_conversion():
    """Restores torch.__future__'s swap_module_params_on_conversion after the test."""
    before = torch.__future__.get_swap_module_params_on_conversion()
    yield torch.__future__.set_swap_module_params_on_conversion
    torch.__future__.set_swap_module_params_on_conversion(before)


def _copy_parameters_to(module: nn.Module, dtype: torch.dtype, set_grad: bool) -> None:
    """test_to's ``_to``: new Parameters set by attribute assignment, not by ``module.to``."""
    for child in module.children():
        _copy_parameters_to(child, dtype, set_grad)
    for name, p in list(module.named_parameters(recurse=False)):
        new_p = nn.Parameter(p.detach().clone().to("cpu", dtype))
        setattr(module, name, new_p)
        if set_grad:
            new_p.grad = torch.randn_like(new_p)


def _to_dtype(value: object, dtype: torch.dtype) -> object:
    return value.to(dtype) if isinstance(value, torch.Tensor) else value


@pytest.mark.parametrize("set_grad", [True, False])
@pytest.mark.parametrize("swap", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("info", INFOS, ids=INFO_IDS)
def test_to(info, training, swap, set_grad, swap_on_conversion) -> None:
    """test_modules.py's test_to: parameters keep their identity through ``.to(dtype)``; their
    TensorImpl is swapped (``swap``) or their ``.data`` set; gradients follow. Plus: the module
    computes in the new dtype afterwards."""
    dtype = torch.float32
    samples = info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=False,
                                      training=training)  # fmt: skip
    swap_on_conversion(swap)
    for sample in samples:
        module = RNNKIT[info.module_cls](*sample.constructor_input.args,
                                         **sample.constructor_input.kwargs).train(training)  # fmt: skip
        args, kwargs = sample.forward_input.args, sample.forward_input.kwargs
        _copy_parameters_to(module, dtype, set_grad)
        if swap and not set_grad:
            out = module(*args, **kwargs)
            (out[0] if isinstance(out, tuple) else out).sum().backward()
            module.to(dtype=torch.half)
            module.to(dtype=torch.float32)
        for dtype_ in info.dtypes:
            ids_before = [id(p) for p in module.parameters()]
            cdatas_before = [p._cdata for p in module.parameters()]
            if set_grad:
                grad_ids_before = [id(p.grad) for p in module.parameters()]
            module.to(device="cpu", dtype=dtype_)
            assert all(isinstance(p, nn.Parameter) for p in module.parameters())
            assert all(p.dtype == dtype_ for p in module.parameters())
            assert [id(p) for p in module.parameters()] == ids_before
            cdatas_after = [p._cdata for p in module.parameters()]
            if swap:
                assert all(a != b for a, b in zip(cdatas_before, cdatas_after, strict=True))
            else:
                assert cdatas_after == cdatas_before
            if set_grad:
                assert all(p.grad.dtype == dtype_ for p in module.parameters())
                if not swap:
                    assert [id(p.grad) for p in module.parameters()] == grad_ids_before
            if dtype_ == torch.float64:
                converted = torch.utils._pytree.tree_map(
                    partial(_to_dtype, dtype=dtype_), list(args)
                )
                out = module(*converted, **kwargs)
                assert torch.utils._pytree.tree_leaves(out)[0].dtype == dtype_


@pytest.mark.parametrize("swap", [True, False])
@pytest.mark.parametrize("info", INFOS, ids=INFO_IDS)
def test_to_empty(info, swap, swap_on_conversion) -> None:
    """test_modules.py's test_to_empty: from the meta device to the CPU."""
    with torch.device("meta"):
        samples = info.module_inputs_func(info, device=None, dtype=torch.float32,
                                          requires_grad=False, training=True)  # fmt: skip
    swap_on_conversion(swap)
    for sample in samples:
        with torch.device("meta"):
            module = RNNKIT[info.module_cls](*sample.constructor_input.args,
                                             **sample.constructor_input.kwargs)  # fmt: skip
        ids_before = [id(p) for p in module.parameters()]
        cdatas_before = [p._cdata for p in module.parameters()]
        module.to_empty(device=torch.device("cpu"))
        assert all(isinstance(p, nn.Parameter) for p in module.parameters())
        assert all(p.device == torch.device("cpu") for p in module.parameters())
        assert all(p.dtype == torch.float32 for p in module.parameters())
        ids_after = [id(p) for p in module.parameters()]
        cdatas_after = [p._cdata for p in module.parameters()]
        assert all(a != b for a, b in zip(cdatas_before, cdatas_after, strict=True))
        if swap:
            assert ids_after == ids_before
        else:
            assert all(a != b for a, b in zip(ids_before, ids_after, strict=True))


LAYER_INFOS = [info for info in INFOS if info.module_cls in (nn.RNN, nn.GRU)]  # LSTM: none


@pytest.mark.parametrize("info", LAYER_INFOS, ids=[i.module_cls.__name__ for i in LAYER_INFOS])
def test_packed_sequence_samples(info) -> None:
    """The ModuleInfo samples made with ``with_packed_sequence=True`` (test_cpu_gpu_parity's):
    torch.nn's outputs, PackedSequence fields, and first and second derivatives."""
    samples = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True,
                                      training=True, with_packed_sequence=True)  # fmt: skip
    packed = [s for s in samples if isinstance(s.forward_input.args[0], rnn_utils.PackedSequence)]
    if not packed:
        pytest.skip("this torch's ModuleInfo has no PackedSequence samples")
    for sample in packed:
        args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
        ref, mine = pair(info.module_cls.__name__, *args, **kwargs)
        seq = sample.forward_input.args[0]
        want, got = ref(seq), mine(seq)
        assert_close(got[0].data, want[0].data)
        assert_close(got[1], want[1])
        assert torch.equal(got[0].batch_sizes, want[0].batch_sizes)
        for field in ("sorted_indices", "unsorted_indices"):
            a, b = getattr(want[0], field), getattr(got[0], field)
            assert (a is None and b is None) or torch.equal(a, b)
        derivatives = []
        for module in (ref, mine):
            out, final = module(seq)
            (g,) = torch.autograd.grad((out.data.pow(2).sum() + final.pow(3).sum()), seq.data,
                                       create_graph=True)  # fmt: skip
            derivatives.append((g, *torch.autograd.grad(g.pow(2).sum(), [seq.data, *module.parameters()])))
        assert_close(derivatives[1], derivatives[0])


# --- test_jit.py, test/jit/test_models.py ---------------------------------------------------


@pytest.mark.parametrize("name", LAYERS)
def test_rnn_trace_override(name) -> None:
    """test_jit.py's test_rnn_trace_override: a traced pack -> layer -> pad wrapper gives the
    eager outputs and input gradients."""
    num_layers, time, batch, size = 3, 11, 5, 7

    class RNNTraceWrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = getattr(rnn, name)(input_size=size, hidden_size=size, num_layers=num_layers)

        def forward(self, x: torch.Tensor, seq_lens: torch.Tensor) -> torch.Tensor:
            x = rnn_utils.pack_padded_sequence(x, seq_lens)
            x, _ = self.rnn(x)
            x, _ = rnn_utils.pad_packed_sequence(x)
            return x

    x = torch.ones(time, batch, size, requires_grad=True)
    seq_lens = torch.from_numpy(np.array([11, 3, 2, 2, 1], dtype=np.int32))
    module = RNNTraceWrapper()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, (x, seq_lens))
    y = module(x, seq_lens)
    y.sum().backward()
    grad = x.grad.clone()
    x.grad.zero_()
    y_traced = traced(x, seq_lens)
    y_traced.sum().backward()
    assert_close(y_traced, y)
    assert_close(x.grad, grad)


def test_time_sequence_prediction() -> None:
    """test/jit/test_models.py's test_time_sequence_prediction: a ``torch.jit.ScriptModule``
    whose ``@torch.jit.script_method`` calls two LSTM cells (compiled when its ``__init__``
    returns, without ``__prepare_scriptable__``), traced, saved and loaded."""

    class Sequence(torch.jit.ScriptModule):
        def __init__(self) -> None:
            super().__init__()
            self.lstm1 = rnn.LSTMCell(1, 51)
            self.lstm2 = rnn.LSTMCell(51, 51)
            self.linear = nn.Linear(51, 1)

        @torch.jit.script_method
        def forward(self, input):
            outputs = torch.empty((3, 0))
            h_t = torch.zeros((3, 51))
            c_t = torch.zeros((3, 51))
            h_t2 = torch.zeros((3, 51))
            c_t2 = torch.zeros((3, 51))
            output = torch.zeros([3, 51])
            future = 2
            a, b, c, d = input.chunk(input.size(1), dim=1)
            for input_t in (a, b, c, d):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs = torch.cat((outputs, output), 1)
            for _ in range(future):
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs = torch.cat((outputs, output), 1)
            return outputs

    class Traced(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.seq = Sequence()

        def forward(self, input: torch.Tensor) -> torch.Tensor:
            return self.seq.forward(input)

    module = Traced()
    x = torch.rand(3, 4)
    traced = torch.jit.trace(module, (x,))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    for m in (traced, loaded):
        assert_close(m(x), module(x))


def test_script_module_with_layers_in_a_container() -> None:
    """A ScriptModule holding an rnnkit layer, and cells inside an nn.ModuleList: compiled as
    with torch.nn's; the layer's parameters are the ones trained."""

    class Model(torch.jit.ScriptModule):
        def __init__(self, lib) -> None:
            super().__init__()
            self.cells = nn.ModuleList([lib.GRUCell(3, 4), lib.RNNCell(3, 4)])
            self.rnn = lib.LSTM(3, 4, 2, bidirectional=True)

        @torch.jit.script_method
        def forward(self, x):
            h = torch.zeros(x.size(1), 4)
            for cell in self.cells:
                h = cell(x[0], h)
            out, (hn, _) = self.rnn(x)
            return out.sum(0) + h.sum(1, keepdim=True), hn

    torch.manual_seed(0)
    ref = Model(nn)
    torch.manual_seed(0)
    mine = Model(rnn)
    x = torch.randn(5, 2, 3)
    assert_close(mine(x), ref(x))
    mine(x)[0].sum().backward()
    assert all(p.grad is not None for p in mine.parameters())


def test_traced_bidirectional_lstm_encoder() -> None:
    """test/jit/test_models.py's test_snli encoder (states from ``new_zeros``): traced at one
    batch size, run at another, saved and loaded; outputs and parameter gradients as eager."""

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = rnn.LSTM(input_size=12, hidden_size=5, num_layers=2, bidirectional=True)

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            batch = inputs.size()[1]
            h0 = c0 = inputs.new_zeros((4, batch, 5))
            _, (ht, _) = self.rnn(inputs, (h0, c0))
            return ht[-2:].transpose(0, 1).contiguous().view(batch, -1)

    module = Encoder()
    traced = torch.jit.trace(module, (torch.randn(7, 3, 12),))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    x = torch.randn(9, 4, 12)
    want = torch.autograd.grad(module(x).sum(), list(module.parameters()))
    for m in (traced, loaded):
        assert_close(m(x), module(x))
        assert_close(torch.autograd.grad(m(x).sum(), list(m.parameters())), want)


# --- functorch ------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True}])
@pytest.mark.parametrize("name", LAYERS)
def test_per_sample_gradients(name, options) -> None:
    """``vmap(grad(loss))`` over ``functional_call``: each sample's gradients equal those of
    ``grad(loss)`` on that sample alone (torch 2.13's torch.nn layers fail here: docs)."""
    layer = getattr(rnn, name)(3, 4, **options).double()
    params = {k: v.detach() for k, v in layer.named_parameters()}
    shape = (4, 1, 6, 3) if options.get("batch_first") else (4, 6, 1, 3)
    xs = torch.randn(*shape, dtype=torch.float64)

    def loss(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(layer, p, (x,))[0].pow(2).sum()

    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, xs)
    for i in range(xs.shape[0]):
        one = grad(loss)(params, xs[i])
        for key in params:
            assert_close(per_sample[key][i], one[key])


@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True}])
@pytest.mark.parametrize("name", LAYERS)
def test_jacfwd_and_hessian_as_torch_nn(name, options) -> None:
    ref, mine = pair(name, 3, 4, **options)
    x = torch.randn(2, 1, 3, dtype=torch.float64)
    assert_close(jacfwd(lambda v: mine(v)[0])(x), jacfwd(lambda v: ref(v)[0])(x))
    assert_close(hessian(lambda v: mine(v)[0].sum())(x), hessian(lambda v: ref(v)[0].sum())(x))


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_vmap_over_cells(name) -> None:
    """vmap over a cell's input and state (and over the input alone, state shared): torch.nn's
    results for RNNCell and GRUCell; LSTMCell, which torch.nn 2.13 cannot vmap (no batching rule
    for lstm_cell), equals its per-sample loop."""
    ref, mine = pair(name, 3, 4)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h = torch.randn(5, 2, 4, dtype=torch.float64)

    def call(module: nn.Module, xx: torch.Tensor, hh: torch.Tensor):
        return module(xx, (hh, hh)) if name == "LSTMCell" else module(xx, hh)

    got = vmap(partial(call, mine))(x, h)
    shared = vmap(partial(call, mine), in_dims=(0, None))(x, h[0])
    if name == "LSTMCell":
        loop = [call(mine, x[i], h[i]) for i in range(5)]
        loop_shared = [call(mine, x[i], h[0]) for i in range(5)]
        assert_close(got, tuple(torch.stack(t) for t in zip(*loop, strict=True)))
        assert_close(shared, tuple(torch.stack(t) for t in zip(*loop_shared, strict=True)))
    else:
        assert_close(got, vmap(partial(call, ref))(x, h))
        assert_close(shared, vmap(partial(call, ref), in_dims=(0, None))(x, h[0]))


@pytest.mark.parametrize("name", LAYERS)
def test_vmap_over_layers_fails_as_in_torch_nn(name) -> None:
    """torch has no batching rule for its RNN kernels; rnnkit's layers (which run those kernels
    under torch.func) refuse vmap with torch's RuntimeError and sentence."""
    ref, mine = pair(name, 3, 4)
    x = torch.randn(5, 6, 2, 3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="Batching rule not implemented") as want:
        vmap(lambda v: ref(v)[0])(x)
    with pytest.raises(RuntimeError) as got:
        vmap(lambda v: mine(v)[0])(x)
    assert str(want.value) in str(got.value)


# --- torch.fx (beyond PyTorch's RNN tests: what torch.nn's modules give FX) -----------------


@pytest.mark.parametrize("name", [*LAYERS, "RNNCell", "GRUCell", "LSTMCell"])
def test_fx_symbolic_trace_records_a_call_module_node(name) -> None:
    """torch.fx.symbolic_trace keeps torch.nn's modules as leaves (call_module nodes); rnnkit's
    record the same node, so the graph is torch.nn's and the traced model computes as eager."""
    graphs, outputs = [], []
    for lib in (nn, rnn):
        torch.manual_seed(0)

        class Model(nn.Module):
            def __init__(self, lib=lib) -> None:
                super().__init__()
                self.r = getattr(lib, name)(3, 4)
                self.lin = nn.Linear(4, 2)

            def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
                if name in ("RNNCell", "GRUCell"):
                    out = self.r(x, h)
                elif name == "LSTMCell":
                    out, _ = self.r(x, (h, h))
                elif name == "LSTM":
                    out, (_, _) = self.r(x, (h, h))
                else:
                    out, _ = self.r(x, h)
                return self.lin(out)

        model = Model()
        traced = torch.fx.symbolic_trace(model)
        cell = name.endswith("Cell")
        x = torch.randn(2, 3) if cell else torch.randn(5, 2, 3)
        h = torch.randn(2, 4) if cell else torch.randn(1, 2, 4)
        assert_close(traced(x, h), model(x, h))
        graphs.append([(n.op, str(n.target), len(n.args), tuple(n.kwargs)) for n in traced.graph.nodes])
        outputs.append(traced(x, h))
    assert graphs[1] == graphs[0]
    assert ("call_module", "r", 2, ()) in graphs[1]
    assert_close(outputs[1], outputs[0])
