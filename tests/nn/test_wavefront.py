"""The wavefront tanh stack (rnnkit.nn.wavefront) against torch.nn, and where it stands aside."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.autograd import forward_ad, gradgradcheck
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.testing import assert_close

import rnnkit.nn as rnn
from rnnkit.nn import wavefront


def counting(calls: list[int]):
    """The wavefront's apply, appending to ``calls`` each time it returns a result."""
    original = wavefront._Wavefront.apply

    def apply(*args):
        result = original(*args)
        calls.append(1)
        return result

    return apply


@pytest.fixture
def spy(monkeypatch) -> list[int]:
    """Counts the wavefront's completed runs (so a test knows which path ran)."""
    calls: list[int] = []
    monkeypatch.setattr(wavefront._Wavefront, "apply", counting(calls))
    return calls


def pair(input_size: int, hidden: int, dtype=torch.float64, **kw):
    ref = nn.RNN(input_size, hidden, **kw).to(dtype)
    mine = rnn.RNN(input_size, hidden, **kw).to(dtype)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def run_both(ref, mine, x, hx=None, lengths=None):
    """Outputs, h_n and every gradient of torch.nn (packed where lengths) and rnnkit."""
    results = []
    for layer in (ref, mine):
        x_ = x.detach().clone().requires_grad_()
        hx_ = None if hx is None else hx.detach().clone().requires_grad_()
        if layer is ref and lengths is not None:
            first = layer.batch_first
            packed = pack_padded_sequence(x_, lengths, batch_first=first, enforce_sorted=False)
            out, h_n = layer(packed, hx_)
            out = pad_packed_sequence(out, batch_first=first, total_length=x.shape[int(first)])[0]
        else:
            out, h_n = layer(x_, hx_, lengths=lengths) if layer is mine else layer(x_, hx_)
        torch.manual_seed(5)  # randn_like would follow the output's strides, which differ
        # drawn in fp32 whatever the dtype: the same weights for a float64 reference
        loss = (out * torch.randn(out.shape).to(out.dtype)).sum()
        loss = loss + (h_n * torch.randn(h_n.shape).to(h_n.dtype)).sum()
        inputs = [x_, *([hx_] if hx is not None else []), *layer.parameters()]
        results.append([out, h_n, *torch.autograd.grad(loss, inputs)])
    return results


@settings(max_examples=40, deadline=None)
@given(
    num_layers=st.integers(1, 3),
    hidden=st.integers(1, 6),
    batch_first=st.booleans(),
    bias=st.booleans(),
    use_hx=st.booleans(),
    bidirectional=st.booleans(),
    lengths=st.one_of(st.none(), st.lists(st.integers(1, 6), min_size=1, max_size=4)),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_nn_with_gradients(num_layers, hidden, batch_first, bias, use_hx,
                                          bidirectional, lengths, seed) -> None:  # fmt: skip
    torch.manual_seed(seed)
    batch = len(lengths) if lengths else 3
    time = max(lengths) + 1 if lengths else 5
    ref, mine = pair(3, hidden, num_layers=num_layers, batch_first=batch_first, bias=bias,
                     bidirectional=bidirectional)  # fmt: skip
    x = torch.randn((batch, time, 3) if batch_first else (time, batch, 3), dtype=torch.float64)
    dirs = 2 if bidirectional else 1
    hx = torch.randn(num_layers * dirs, batch, hidden, dtype=torch.float64) if use_hx else None
    calls: list[int] = []
    with pytest.MonkeyPatch.context() as patch:  # hypothesis runs examples without fixtures
        patch.setattr(wavefront._Wavefront, "apply", counting(calls))
        expected, got = run_both(ref, mine, x, hx, None if lengths is None else torch.tensor(lengths))
    assert calls == [1] * (num_layers * 2 if bidirectional else 1)  # one per layer direction
    for g, e in zip(got, expected, strict=True):
        assert_close(g, e)
    assert all(g.is_contiguous() for g in got[-len(list(mine.parameters())) :])  # as torch.nn's


@pytest.mark.parametrize("numpy_tanh", ["0", "1"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_float32_at_a_text_classifier_size_is_as_accurate_as_torch_nn(
    spy, monkeypatch, bidirectional, numpy_tanh
) -> None:
    """In fp32 the wavefront sums in another order (and may take numpy's tanh), so it cannot
    equal torch.nn's fp32 bit for bit; against the float64 result its error in every output
    and gradient stays within 3x torch.nn's own fp32 error (measured: at most 1.8x)."""
    monkeypatch.setenv("RNNKIT_NUMPY_TANH", numpy_tanh)
    torch.manual_seed(0)
    kw = {"num_layers": 2, "batch_first": True, "bidirectional": bidirectional}
    ref, mine = pair(32, 64, dtype=torch.float32, **kw)
    exact = pair(32, 64, dtype=torch.float64, **kw)
    for layer in exact:
        layer.load_state_dict(ref.state_dict())  # the same fp32 weights, widened
    x = torch.randn(16, 40, 32)
    lengths = torch.randint(1, 41, (16,))
    expected, got = run_both(ref, mine, x, lengths=lengths)
    assert spy == [1] * (4 if bidirectional else 1)
    truth = run_both(*exact, x.double(), lengths=lengths)[0]  # torch.nn's, in float64
    for g, e, t in zip(got, expected, truth, strict=True):
        torch_error = (e.double() - t).abs().max()
        assert (g.double() - t).abs().max() <= 3 * torch_error + 1e-7


@pytest.mark.parametrize(
    ("options", "dtype", "time", "batch"),
    [
        ({"nonlinearity": "relu"}, torch.float64, 4, 2),
        ({"num_layers": 2, "dropout": 0.5}, torch.float64, 4, 2),  # training: torch's masks
        ({"num_layers": 2, "dropout": 0.5, "bidirectional": True}, torch.float64, 4, 2),
        ({"num_layers": 2}, torch.bfloat16, 4, 2),
        ({"num_layers": 2}, torch.float64, 1, 2),
        ({"num_layers": 2}, torch.float64, 4, 0),
    ],
    ids=["relu", "dropout", "bidirectional-dropout", "bf16", "one-step", "empty-batch"],
)
def test_configurations_it_leaves_to_torch(spy, options, dtype, time, batch) -> None:
    torch.manual_seed(0)
    ref, mine = pair(3, 4, dtype=dtype, **options)
    x = torch.randn(time, batch, 3, dtype=dtype)
    torch.manual_seed(1)
    expected = ref(x)[0]
    torch.manual_seed(1)
    got = mine(x)[0]
    assert spy == []
    assert_close(got, expected)  # one step runs rnnkit's own loop, all else torch's kernel
    got.sum().backward()  # an empty batch's backward too


@pytest.mark.parametrize(
    ("layers", "hidden", "served"),
    [(1, 256, True), (1, 257, False), (2, 192, True), (2, 193, False), (3, 128, True),
     (3, 129, False), (2, 256, False)],
)  # fmt: skip
def test_sizes_it_serves(layers, hidden, served) -> None:
    assert wavefront.faster_here(layers, hidden) == served


@pytest.mark.parametrize(
    ("layers", "hidden", "served"), [(1, 256, True), (1, 257, False), (3, 256, True), (3, 257, False)]
)
def test_sizes_it_serves_bidirectional(layers, hidden, served) -> None:
    # each layer direction is a one-layer wavefront: the layer count does not matter
    assert wavefront.faster_here(layers, hidden, bidirectional=True) == served


def test_too_wide_a_stack_and_dropout_in_eval(spy) -> None:
    mine = rnn.RNN(3, 200, num_layers=2, dtype=torch.float64)
    mine(torch.randn(4, 2, 3, dtype=torch.float64))
    assert spy == []
    mine = rnn.RNN(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64).eval()
    mine(torch.randn(4, 2, 3, dtype=torch.float64))
    assert spy == [1]


def test_autograd_transforms_tracing_and_forward_ad_use_torchs_kernel(spy) -> None:
    torch.manual_seed(0)
    ref, mine = pair(3, 4, num_layers=2)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    grad = torch.func.grad(lambda x_: mine(x_)[0].sum())(x)
    assert_close(grad, torch.func.grad(lambda x_: ref(x_)[0].sum())(x))
    with forward_ad.dual_level():
        tangent = forward_ad.unpack_dual(mine(forward_ad.make_dual(x, torch.ones_like(x)))[0])[1]
        expected = forward_ad.unpack_dual(ref(forward_ad.make_dual(x, torch.ones_like(x)))[0])[1]
    assert_close(tangent, expected)
    traced = torch.jit.trace(mine, (x,), check_trace=False)
    assert_close(traced(x)[0], ref(x)[0])
    assert spy == []


def test_non_finite_values_give_torchs_nan_and_inf(spy) -> None:
    # the wavefront's zero blocks would carry a nan into other layers (0 * nan = nan):
    # a nan at layer 0's step 3 must leave layer 2's steps before 3 as torch.nn leaves them
    torch.manual_seed(0)
    ref, mine = pair(3, 4, num_layers=3)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    x[3, 0, 1] = float("nan")
    hx = torch.randn(3, 2, 4, dtype=torch.float64)
    hx[1, 1, 0] = float("inf")
    for got, expected in zip(mine(x, hx), ref(x, hx), strict=True):
        assert_close(got, expected, equal_nan=True, rtol=0, atol=0)
    assert spy == []  # it raised NonFinite, and torch's kernel ran


@pytest.mark.parametrize("bidirectional", [False, True])
def test_nan_in_the_padding_changes_nothing(bidirectional) -> None:
    torch.manual_seed(0)
    _, mine = pair(3, 4, num_layers=2, bidirectional=bidirectional)
    clean = torch.randn(5, 3, 3, dtype=torch.float64)
    dirty = clean.clone()
    dirty[2:, 1] = float("nan")
    lengths = torch.tensor([5, 2, 4])
    results = []
    for x in (clean, dirty):
        x = x.clone().requires_grad_()
        out, h_n = mine(x, lengths=lengths)
        results.append([out, h_n, *torch.autograd.grad(out.sum() + h_n.sum(), [x, *mine.parameters()])])
    for got, expected in zip(*results, strict=True):
        assert torch.equal(got, expected)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_second_derivatives(spy, lengths, bidirectional) -> None:
    torch.manual_seed(0)
    _, mine = pair(2, 3, num_layers=2, bidirectional=bidirectional)
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    hx = torch.randn(4 if bidirectional else 2, 3, 3, dtype=torch.float64, requires_grad=True)
    lengths_ = None if lengths is None else torch.tensor(lengths)
    params = tuple(mine.parameters())
    assert gradgradcheck(lambda x, hx, *p: mine(x, hx, lengths=lengths_), (x, hx, *params))
    assert spy


@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_is_zero_after_each_length_and_h_n_at_the_last_step(bidirectional) -> None:
    torch.manual_seed(0)
    _, mine = pair(3, 4, num_layers=2, bidirectional=bidirectional)
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    out, h_n = mine(x, lengths=lengths)
    for b, length in enumerate(lengths.tolist()):
        alone_out, alone_h = mine(x[:length, b : b + 1])
        assert_close(out[:length, b : b + 1], alone_out)
        assert torch.equal(out[length:, b], torch.zeros_like(out[length:, b]))
        assert_close(h_n[:, b : b + 1], alone_h)


def test_a_partly_frozen_stack_gets_torchs_gradients(spy) -> None:
    ref, mine = pair(3, 4, num_layers=2)
    for layer in (ref, mine):
        layer.weight_hh_l1.requires_grad_(False)
        layer.weight_ih_l0.requires_grad_(False)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    grads = [
        torch.autograd.grad(layer(x)[0].sum(), [x, *(p for p in layer.parameters() if p.requires_grad)])
        for layer in (ref, mine)
    ]
    for got, expected in zip(grads[1], grads[0], strict=True):
        assert_close(got, expected)
    assert spy == [1]


@pytest.mark.parametrize("num_layers", [1, 2])
def test_the_output_takes_in_place_ops_as_torch_nns_does(spy, num_layers) -> None:
    """torch.nn's output is no view of what its backward saved: ``out += ...`` then backward
    works, and so does ``detach_``; rnnkit's one-layer output was a view of the saved rows."""
    ref, mine = pair(3, 4, num_layers=num_layers)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    grads = []
    for layer in (ref, mine):
        out, _ = layer(x)
        assert out._version == 0
        out += 1.0
        out[0] = 0.0
        grads.append(torch.autograd.grad(out.square().sum(), list(layer.parameters())))
    for got, expected in zip(grads[1], grads[0], strict=True):
        assert_close(got, expected)
    mine(x)[0].detach_()
    assert spy == [1, 1]


def test_numpy_tanh_is_measured_once_per_machine(fresh_measurements, monkeypatch) -> None:
    first = wavefront.numpy_tanh(torch.float32)
    assert isinstance(first, bool)

    def measure_again(*_):
        raise AssertionError("measured twice")

    monkeypatch.setattr(wavefront, "_numpy_tanh_faster", measure_again)
    assert wavefront.numpy_tanh(torch.float32) == first
    monkeypatch.setattr(fresh_measurements, "_ANSWERS", {})  # a new process: read from disk
    assert wavefront.numpy_tanh(torch.float32) == first
    monkeypatch.setenv("RNNKIT_NUMPY_TANH", "0")
    assert wavefront.numpy_tanh(torch.float32) is False


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", [None, [7, 3, 5, 1]])
def test_inference_gives_the_training_forwards_results(spy, bidirectional, lengths) -> None:
    """Without a gradient a batch-first input is projected in its own layout (no copy); the
    results are the same as with one."""
    torch.manual_seed(0)
    _, mine = pair(3, 5, num_layers=2, batch_first=True, bidirectional=bidirectional)
    x = torch.randn(4, 8, 3, dtype=torch.float64)
    lengths_ = None if lengths is None else torch.tensor(lengths)
    trained = mine(x.clone().requires_grad_(), lengths=lengths_)
    with torch.inference_mode():
        inferred = mine(x, lengths=lengths_)
    with torch.no_grad():
        no_grad = mine(x, lengths=lengths_)
    for got in (inferred, no_grad):
        for g, e in zip(got, trained, strict=True):
            assert_close(g, e.detach(), rtol=1e-12, atol=1e-12)
    assert len(spy) == 3 * (4 if bidirectional else 1)


def _autocast_run(layer, x: torch.Tensor, lengths: torch.Tensor, bf16: bool) -> list[torch.Tensor]:
    """Output, h_n and every gradient (x's and the weights') of ``layer`` under CPU autocast
    (bf16) or without it."""
    x_ = x.detach().clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out, h_n = layer(x_, lengths=lengths)
    loss = (out.float() * torch.linspace(-1, 1, out.shape[-1])).sum() + h_n.float().sum()
    return [out, h_n, *torch.autograd.grad(loss, [x_, *layer.parameters()])]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_bf16_products_under_autocast(spy, bidirectional, monkeypatch) -> None:
    """Under bf16 autocast, where the recurrence stays in fp32 and bf16 products measured
    faster (both forced here), the input projection and the weights' gradients run in bf16:
    every result within bf16's precision of the fp32 one, and not equal to what fp32
    products give under autocast (so they did run in bf16); torch.nn's dtypes; fp32 grads."""
    from rnnkit.nn import precision

    monkeypatch.setattr(precision, "bf16_kernel", lambda *_: False)
    torch.manual_seed(0)
    layer = rnn.RNN(16, 32, num_layers=2, batch_first=True, bidirectional=bidirectional)
    x, lengths = torch.randn(6, 9, 16), torch.tensor([9, 4, 7, 9, 1, 6])
    fp32 = _autocast_run(layer, x, lengths, bf16=False)
    runs = {}
    for products in (False, True):
        monkeypatch.setattr(precision, "bf16_products", lambda _, answer=products: answer)
        runs[products] = _autocast_run(layer, x, lengths, bf16=True)
    assert len(spy) == 3 * (4 if bidirectional else 1)  # every run was a wavefront
    out, h_n, *grads = runs[True]
    assert out.dtype == h_n.dtype == torch.bfloat16  # torch.nn.RNN's under autocast
    assert all(g.dtype == torch.float32 for g in grads)
    for got, expected in zip(runs[True][:2], fp32[:2], strict=True):  # bf16's precision
        assert_close(got.float(), expected, atol=2e-2, rtol=2e-2)
    for got, expected in zip(grads, fp32[2:], strict=True):  # as the loop path's bf16 test
        assert_close(got, expected, atol=8e-2, rtol=5e-2)
    differences = [(a.float() - b.float()).abs().max().item() for a, b in zip(runs[True], runs[False], strict=True)]
    assert min(differences[2:]) > 0  # each gradient came from bf16 products


def test_bf16_products_are_measured_per_size_class(fresh_measurements, monkeypatch) -> None:
    from rnnkit.nn import precision

    calls = []
    monkeypatch.setattr(precision, "_measure_products", lambda size: calls.append(size) or True)
    assert precision.bf16_products(50) is True and precision.bf16_products(64) is True
    assert precision.bf16_products(100) is True
    assert calls == [64, 128]
    monkeypatch.setenv("RNNKIT_BF16", "0")
    assert precision.bf16_products(50) is False


def test_with_a_gradient_the_forward_direction_projects_inside(monkeypatch) -> None:
    """Training: each forward direction hands x and W_ih_0 to the wavefront (projected into its
    reused rows); a reverse direction and inference hand it the projection. Either way x's
    gradient is torch.nn's, laid out as torch.nn's (time first, seen batch first)."""
    seen: list[bool] = []
    original = wavefront._Wavefront.apply
    monkeypatch.setattr(
        wavefront._Wavefront, "apply", lambda *args: seen.append(args[6] is not None) or original(*args)
    )
    torch.manual_seed(0)
    ref, mine = pair(3, 5, num_layers=2, batch_first=True, bidirectional=True)
    x = torch.randn(4, 8, 3, dtype=torch.float64)
    grads = []
    for layer in (ref, mine):
        x_ = x.clone().requires_grad_()
        out, h_n = layer(x_)
        grads.append(torch.autograd.grad((out * out).sum() + h_n.sum(), x_)[0])
    assert seen == [True, False, True, False]  # layer by layer: forward, then reverse
    assert_close(grads[1], grads[0])
    assert grads[1].stride() == grads[0].stride()
    seen.clear()
    with torch.no_grad():
        mine(x)
    assert seen == [False] * 4
