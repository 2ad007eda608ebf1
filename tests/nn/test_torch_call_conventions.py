"""What user code can tell apart beyond values: positional arguments, PackedSequence layout,
random draws under dropout, and torch.func / forward-mode AD at every sequence length.
(Packed input under torch.func fails in torch.nn itself: pack_padded_sequence has no
batching rule nor forward AD.)"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.autograd import forward_ad
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence
from torch.testing import assert_close

import rnnkit.nn as rnn

KINDS = ["RNN", "LSTM", "GRU"]


def pair(kind: str, *args, **kw):
    torch.manual_seed(0)
    ref = getattr(nn, kind)(*args, **kw)
    torch.manual_seed(0)
    return ref, getattr(rnn, kind)(*args, **kw)


@pytest.mark.parametrize("kind", KINDS)
def test_positional_proj_size_device_and_dtype_as_torch_nn(kind) -> None:
    # torch.nn's order: ..., bidirectional, proj_size, device, dtype (RNN: nonlinearity 4th)
    extra = ("relu",) if kind == "RNN" else ()
    args = (3, 5, 1, *extra, True, False, 0.0, False, 0, "cpu", torch.float64)
    ref, mine = pair(kind, *args)
    assert [p.dtype for p in mine.parameters()] == [p.dtype for p in ref.parameters()]
    assert mine.state_dict().keys() == ref.state_dict().keys()
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    assert_close(mine(x)[0], ref(x)[0])


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_a_positional_proj_size_is_refused_by_rnn_and_gru(kind) -> None:
    extra = ("tanh",) if kind == "RNN" else ()
    with pytest.raises(ValueError, match="proj_size"):
        getattr(rnn, kind)(3, 5, 1, *extra, True, False, 0.0, False, 2)


@pytest.mark.parametrize(
    ("name", "args"),
    [("RNNCell", (3, 5, True, "relu", "cpu", torch.float64)),
     ("LSTMCell", (3, 5, True, "cpu", torch.float64)),
     ("GRUCell", (3, 5, True, "cpu", torch.float64))],
)  # fmt: skip
def test_cells_take_device_and_dtype_positionally(name, args) -> None:
    torch.manual_seed(0)
    ref = getattr(nn, name)(*args)
    torch.manual_seed(0)
    mine = getattr(rnn, name)(*args)
    assert not mine.layer_norm  # rnnkit's own options are keyword-only
    assert mine.state_dict().keys() == ref.state_dict().keys()
    for got, expected in zip(mine.parameters(), ref.parameters(), strict=True):
        assert torch.equal(got, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_packed_input_draws_torchs_dropout_masks(kind) -> None:
    ref, mine = pair(kind, 5, 6, num_layers=2, dropout=0.5)
    packed = pack_padded_sequence(torch.randn(4, 3, 5), [4, 3, 1])
    outputs = []
    for layer in (ref, mine):
        torch.manual_seed(123)
        outputs.append(layer(packed))
    assert torch.equal(outputs[1][0].data, outputs[0][0].data)
    for got, expected in zip(outputs[1][1:], outputs[0][1:], strict=True):
        assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("implementation", ["auto", "loop"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_one_step_packed_sequence_keeps_the_inputs_layout(kind, implementation) -> None:
    ref, mine = pair(kind, 3, 4)
    mine.implementation = implementation
    data = torch.randn(2, 3)
    sorted_in = pack_padded_sequence(data.unsqueeze(0), [1, 1])  # sorted: no indices
    by_hand = PackedSequence(data, torch.tensor([2]), torch.tensor([1, 0]), torch.tensor([1, 0]))
    for packed in (sorted_in, by_hand):
        got, expected = mine(packed)[0], ref(packed)[0]
        assert (got.sorted_indices is None) == (expected.sorted_indices is None)
        if expected.sorted_indices is not None:
            assert torch.equal(got.sorted_indices, expected.sorted_indices)
        assert_close(got.data, expected.data)


@pytest.mark.parametrize("time", [1, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_torch_func_and_forward_ad_at_every_length(kind, time) -> None:
    ref, mine = pair(kind, 5, 6)
    x = torch.randn(time, 3, 5)
    for transform in (torch.func.grad, torch.func.jacrev):
        expected = transform(lambda x_, layer=ref: layer(x_)[0].sum())(x)
        assert_close(transform(lambda x_: mine(x_)[0].sum())(x), expected)
    if kind == "LSTM":
        return  # torch.nn's oneDNN LSTM has no forward-mode AD (mkldnn_rnn_layer)
    tangents = []
    for layer in (ref, mine):
        with forward_ad.dual_level():
            out = layer(forward_ad.make_dual(x, torch.ones_like(x)))[0]
            tangents.append(forward_ad.unpack_dual(out).tangent)
    assert_close(tangents[1], tangents[0])


@pytest.mark.parametrize(("kind", "options"), [("RNN", {}), ("RNN", {"nonlinearity": "relu"}),
                                               ("LSTM", {}), ("GRU", {})])  # fmt: skip
def test_mode_names_the_kernel_as_torch_nn(kind, options) -> None:
    ref, mine = pair(kind, 3, 4, **options)
    assert mine.mode == ref.mode


def test_partial_flat_weights() -> None:
    """test_nn.test_partial_flat_weights, with .double() for .cuda(): a module with a weight
    deleted can still be moved, and works again once the weight is back."""
    ref, mine = pair("LSTM", 10, 6, num_layers=2)
    x = torch.randn(3, 2, 10)
    expected = ref(x)[0]
    weight = mine.weight_hh_l0
    del mine.weight_hh_l0
    assert not hasattr(mine, "weight_hh_l0")
    mine.double()
    mine.weight_hh_l0 = nn.Parameter(weight.detach().double())
    assert_close(mine(x.double())[0], expected.double())


def test_packed_input_with_a_projection_warns_as_torch_nn_does() -> None:
    ref, mine = pair("LSTM", 3, 4, proj_size=2)
    packed = pack_padded_sequence(torch.randn(4, 2, 3), [4, 2])
    caught = []
    for layer in (ref, mine):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            layer(packed)
        caught.append(sorted(str(w.message) for w in seen))
    assert caught[1] == caught[0]


@pytest.mark.parametrize("time", [1, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_a_state_of_another_dtype_is_a_runtime_error_as_in_torch_nn(kind, time) -> None:
    ref, mine = pair(kind, 5, 6)
    x = torch.randn(time, 2, 5)
    h = torch.zeros(1, 2, 6, dtype=torch.float64)
    hx = (h, torch.zeros(1, 2, 6)) if kind == "LSTM" else h
    for layer in (ref, mine):
        with pytest.raises(RuntimeError):
            layer(x, hx)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_a_cell_state_of_another_dtype_is_a_runtime_error(name) -> None:
    h = torch.zeros(2, 6, dtype=torch.float64)
    for lib in (nn, rnn):
        cell = getattr(lib, name)(5, 6)
        with pytest.raises(RuntimeError):
            cell(torch.randn(2, 5), (h, h) if name == "LSTMCell" else h)


def test_lstm_cell_takes_hx_only_as_a_pair_of_tensors() -> None:
    x, stacked = torch.randn(3, 5), torch.randn(2, 3, 4)
    for lib in (nn, rnn):
        cell = lib.LSTMCell(5, 4)
        with pytest.raises(TypeError):
            cell(x, stacked)
    with pytest.raises(TypeError):
        rnn.LSTMCell(5, 4)(x, (None, stacked[1]))
    with pytest.raises(RuntimeError):
        rnn.LSTMCell(5, 4)(x, (stacked[0],))


def test_rnn_cell_nonlinearity_changed_after_construction_fails_at_forward() -> None:
    for lib in (nn, rnn):
        cell = lib.RNNCell(3, 4)
        cell.nonlinearity = "gelu"
        with pytest.raises(RuntimeError, match="Unknown nonlinearity: gelu"):
            cell(torch.randn(2, 3))


@pytest.mark.parametrize("implementation", ["auto", "loop"])
def test_zero_time_steps_raise_torchs_runtime_error_on_both_paths(implementation) -> None:
    layer = rnn.GRU(3, 4, implementation=implementation)
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
        layer(torch.randn(0, 2, 3))


def test_rnnkits_own_options_are_checked() -> None:
    with pytest.raises(TypeError, match="layer_norm"):
        rnn.LSTM(3, 4, layer_norm="x")
    with pytest.raises(ValueError, match="lengths"):
        rnn.GRU(3, 4)(torch.randn(3, 2, 3), lengths=torch.tensor([True, True]))


def test_numpy_integers_where_torch_nn_takes_them() -> None:
    np = pytest.importorskip("numpy")
    for kw in ({"num_layers": np.int64(2)}, {"proj_size": np.int64(2)}):
        ref, mine = pair("LSTM", 3, 5, **kw)
        assert mine.state_dict().keys() == ref.state_dict().keys()
    ref, mine = torch.nn.GRUCell(np.int64(3), 5), rnn.GRUCell(np.int64(3), 5)
    assert mine.weight_ih.shape == ref.weight_ih.shape
    with pytest.raises(TypeError):  # torch.nn checks hidden_size's type itself
        rnn.LSTM(3, np.int64(5))
    for lib in (nn, rnn):  # a bool hidden size: torch.nn fails in torch.empty
        with pytest.raises(TypeError):
            lib.RNN(3, True)


@pytest.mark.parametrize("kind", KINDS)
def test_rnnbase_helpers_as_torch_nn(kind) -> None:
    """check_forward_args, get_expected_hidden_size, check_hidden_size and permute_hidden
    (what wrappers that pack by hand call) give torch.nn's results and exception types."""
    ref, mine = pair(kind, 3, 4, num_layers=2, batch_first=True)
    x = torch.randn(5, 6, 3)
    packed = pack_padded_sequence(x, [6, 5, 3, 3, 1], batch_first=True)
    for batch_sizes, data in ((None, x), (packed.batch_sizes, packed.data)):
        assert mine.get_expected_hidden_size(data, batch_sizes) == ref.get_expected_hidden_size(data, batch_sizes)
    h = torch.zeros(2, 5, 4)
    good = (h, h) if kind == "LSTM" else h
    bad = (h[:, :4], h) if kind == "LSTM" else h[:, :4]
    for layer in (ref, mine):
        layer.check_forward_args(x, good, None)
        with pytest.raises(RuntimeError):
            layer.check_forward_args(x, bad, None)
        with pytest.raises(RuntimeError, match="Expected hidden size"):
            layer.check_hidden_size(h, (2, 4, 4))
    order = torch.tensor([4, 3, 2, 1, 0])
    for got, expected in zip(parts(mine.permute_hidden(good, order)),
                             parts(ref.permute_hidden(good, order)), strict=True):  # fmt: skip
        assert torch.equal(got, expected)
    if kind == "LSTM":
        assert mine.get_expected_cell_size(x, None) == ref.get_expected_cell_size(x, None)


def parts(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("time", [1, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_meta_device_forward_gives_torch_nns_shapes(kind, time) -> None:
    """T = 1 runs the loop path, which asked autocast about a device it does not know."""
    ref, mine = (getattr(m, kind)(4, 5, num_layers=2, device="meta") for m in (nn, rnn))
    x = torch.randn(time, 2, 4, device="meta")
    for got, want in zip(mine(x), ref(x), strict=True):
        for g, w in zip(*((t if isinstance(t, tuple) else (t,)) for t in (got, want)), strict=True):
            assert (g.shape, g.device, g.dtype) == (w.shape, w.device, w.dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_layers_build_inside_torch_func_and_under_fake_tensors(kind) -> None:
    """flatten_parameters asks for CUDA before reading data pointers, as torch.nn's does: a
    functorch-wrapped or fake tensor has none to read (an error, or a deprecation warning)."""
    grad = torch.func.grad(lambda x: (getattr(rnn, kind)(2, 2), x.sum())[1])(torch.randn(3))
    assert torch.equal(grad, torch.ones(3))
    from torch._subclasses.fake_tensor import FakeTensorMode

    with warnings.catch_warnings(), FakeTensorMode():
        warnings.simplefilter("error")
        layer = getattr(rnn, kind)(3, 4)
        assert layer(torch.randn(5, 2, 3))[0].shape == (5, 2, 4)


@pytest.mark.parametrize("kind", KINDS)
def test_torch_compile_gives_torch_nns_results_and_gradients(kind) -> None:
    """torch.compile (AOTAutograd; inductor compiles the same graph, slower to test): the LSTM
    kernel runs eagerly, as torch.nn.LSTM does under compile (traced, oneDNN's LSTM fails
    whenever a weight needs a gradient); RNN and GRU are traced."""
    torch._dynamo.reset()
    ref, mine = pair(kind, 3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 2, 3)
    results = []
    for layer in (ref, torch.compile(mine, backend="aot_eager")):
        out, _ = layer(x)
        out.square().sum().backward()
        results.append((out, [p.grad for p in layer.parameters()]))
    assert_close(results[1], results[0])


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_gradients_of_packed_input_are_contiguous_as_torch_nns(kind, bidirectional) -> None:
    """autograd.grad hands back what the backward made (``.backward()`` would restride it):
    PyTorch's module tests assert these are contiguous."""
    _, mine = pair(kind, 2, 3, bidirectional=bidirectional)
    x = torch.randn(5, 2, 2, requires_grad=True)
    out, _ = mine(pack_padded_sequence(x, torch.tensor([5, 2])))
    grads = torch.autograd.grad(out.data.sum(), [x, *mine.parameters()])
    assert all(g.is_contiguous() for g in grads)


@pytest.mark.parametrize("name", [*KINDS, "RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("value", [[[1.0] * 4] * 3, None], ids=["list", "None"])
def test_an_input_that_is_not_a_tensor_is_torch_nns_attribute_error(name, value) -> None:
    """torch.nn calls input.dim(): AttributeError. rnnkit's says so too, and names the input."""
    for module in (nn, rnn):
        with pytest.raises(AttributeError, match=r"object has no attribute 'dim'"):
            getattr(module, name)(4, 5)(value)
    with pytest.raises(TypeError, match=r"^input='(list|NoneType)': expected a tensor"):
        getattr(rnn, name)(4, 5)(value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_trace_of_one_step_runs_any_length_and_saves(kind, tmp_path) -> None:
    """T = 1 takes the loop path, whose steps a trace would record unrolled (or as a Python
    call that cannot be saved); while tracing it takes torch's kernel, as torch.nn does."""
    ref, mine = pair(kind, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # torch.nn's layers warn too
        traced = torch.jit.trace(mine, torch.randn(1, 2, 3))
    x = torch.randn(4, 2, 3)
    assert_close(traced(x), ref(x))
    torch.jit.save(traced, tmp_path / "traced.pt")


@pytest.mark.parametrize("time", [1, 3])  # the loop path, and the fused ones (the wavefront too)
@pytest.mark.parametrize("kind", KINDS)
def test_states_or_weights_on_another_device_get_torch_nns_error(kind, time) -> None:
    x = torch.randn(time, 2, 3)
    h = torch.zeros(1, 2, 4, device="meta")
    hx = (h, h) if kind == "LSTM" else h
    for module in (nn, rnn):
        with pytest.raises(RuntimeError, match=r"Input and hidden tensors are not at the same device, "
                                               r"found input tensor at cpu and hidden tensor at meta"):  # fmt: skip
            getattr(module, kind)(3, 4)(x, hx)
        with pytest.raises(RuntimeError, match=r"Input and parameter tensors are not at the same device"):
            getattr(module, kind)(3, 4, device="meta")(x)
