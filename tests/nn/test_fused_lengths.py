"""The fused path's variable-length runs (rnnkit.nn.fused_lengths) against torch.nn packed."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit.nn as rnn
from rnnkit.nn import fused_lengths

KINDS = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


def pair(kind: str, input_size: int, hidden: int, **kw):
    if kind.startswith("RNN"):
        kw["nonlinearity"] = kind[4:].lower()
        kind = "RNN"
    ref = getattr(nn, kind)(input_size, hidden, **kw)
    mine = getattr(rnn, kind)(input_size, hidden, implementation="fused", **kw)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def parts(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


@pytest.fixture
def spy(monkeypatch) -> list[int]:
    """Counts calls of the padded variable-length path (so a test knows it ran)."""
    calls: list[int] = []
    original = fused_lengths.run_lengths

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr("rnnkit.nn.fused.run_lengths", counting)
    return calls


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    num_layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    proj=st.booleans(),
    use_hx=st.booleans(),
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    extra=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_lengths_match_torch_packed_with_gradients(
    kind, num_layers, bidirectional, proj, use_hx, lengths, extra, seed
) -> None:
    torch.manual_seed(seed)
    kw = {"num_layers": num_layers, "bidirectional": bidirectional}
    if proj and kind == "LSTM":
        kw["proj_size"] = 2
    ref, mine = pair(kind, 3, 4, **kw)
    time, batch = max(lengths) + extra, len(lengths)  # extra: padding past the longest
    lengths_t = torch.tensor(lengths)
    x = torch.randn(time, batch, 3, requires_grad=True)
    count = num_layers * (2 if bidirectional else 1)
    hx = None
    if use_hx:
        hx = torch.randn(count, batch, kw.get("proj_size") or 4, requires_grad=True)
        if kind == "LSTM":
            hx = (hx, torch.randn(count, batch, 4, requires_grad=True))
    out, final = mine(x, hx, lengths=lengths_t)
    packed = pack_padded_sequence(x, lengths_t, enforce_sorted=False)
    ref_packed, ref_final = ref(packed, hx)
    ref_out, _ = pad_packed_sequence(ref_packed, total_length=time)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    for a, b in zip(parts(final), parts(ref_final), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert not out[lengths_t[None, :] <= torch.arange(time)[:, None]].any()  # zero padding
    weights = torch.randn_like(out)
    inputs = [x, *([] if hx is None else parts(hx)), *mine.parameters()]
    grads = torch.autograd.grad((out * weights).sum() + sum(s.sum() for s in parts(final)), inputs)
    ref_inputs = [x, *([] if hx is None else parts(hx)), *ref.parameters()]
    ref_grads = torch.autograd.grad(
        (ref_out * weights).sum() + sum(s.sum() for s in parts(ref_final)), ref_inputs
    )
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_padded_path_runs_and_equal_lengths_use_the_plain_kernel(kind, spy) -> None:
    torch.manual_seed(0)
    ref, mine = pair(kind, 3, 5, num_layers=2, bidirectional=True)
    x = torch.randn(7, 4, 3)
    mine(x, lengths=torch.tensor([7, 1, 4, 4]))
    assert spy == [1]
    out, final = mine(x, lengths=torch.tensor([7, 7, 7, 7]))  # all full: one plain call
    assert spy == [1]
    ref_out, ref_final = ref(x)
    torch.testing.assert_close(out, ref_out)
    for a, b in zip(parts(final), parts(ref_final), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_where_padded_runs_do_not_serve_lengths_take_torchs_packed_call(
    kind, spy, monkeypatch
) -> None:
    """Off the CPU (a GPU: padded_lengths_serve says no) lengths= and PackedSequence input
    run torch's packed kernel, as torch.nn does: its outputs, states and gradients exactly."""
    from rnnkit.nn import fused

    monkeypatch.setattr(fused, "padded_lengths_serve", lambda x: False)
    monkeypatch.setattr(fused.wavefront, "serves", lambda *a, **k: False)  # CPU-only too
    torch.manual_seed(4)
    ref, mine = pair(kind, 3, 5, num_layers=2, bidirectional=True)
    x = torch.randn(6, 4, 3, requires_grad=True)
    lengths = torch.tensor([6, 2, 5, 3])
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    ref_out, ref_final = ref(packed)
    ref_padded = pad_packed_sequence(ref_out, total_length=6)[0]
    out, final = mine(x, lengths=lengths)
    packed_out, packed_final = mine(packed)
    assert spy == []
    assert torch.equal(out, ref_padded) and torch.equal(packed_out.data, ref_out.data)
    for a, b, c in zip(parts(final), parts(packed_final), parts(ref_final), strict=True):
        assert torch.equal(a, c) and torch.equal(b, c)
    (grad_ref,) = torch.autograd.grad(ref_padded.sum() + parts(ref_final)[0].sum(), x)
    (grad_mine,) = torch.autograd.grad(out.sum() + parts(final)[0].sum(), x)
    assert torch.equal(grad_mine, grad_ref)


def test_lstm_cell_state_is_carried_exactly_over_padding() -> None:
    """The saturated gates keep c through padded steps (c_n = c at the length, to rounding)."""
    torch.manual_seed(1)
    _, mine = pair("LSTM", 3, 6)
    x = torch.randn(9, 2, 3) * 5  # large inputs: gates far from their linear range
    _, (_, c_short) = mine(x[:4])
    _, (_, c_padded) = mine(x, lengths=torch.tensor([4, 9]))  # 5 padded steps for sequence 0
    torch.testing.assert_close(c_padded[:, 0], c_short[:, 0], atol=1e-6, rtol=0)


def test_packed_input_with_tied_lengths_keeps_the_packing_order() -> None:
    torch.manual_seed(2)
    ref, mine = pair("GRU", 3, 4, bidirectional=True)
    x = torch.randn(5, 6, 3)
    packed = pack_padded_sequence(x, torch.tensor([3, 5, 3, 1, 3, 5]), enforce_sorted=False)
    out, h = mine(packed)
    ref_out, ref_h = ref(packed)
    assert torch.equal(out.batch_sizes, ref_out.batch_sizes)
    assert torch.equal(out.sorted_indices, ref_out.sorted_indices)
    torch.testing.assert_close(out.data, ref_out.data)
    torch.testing.assert_close(h, ref_h)


def test_inter_layer_dropout_in_training_only() -> None:
    torch.manual_seed(3)
    _, mine = pair("LSTM", 3, 4, num_layers=2, dropout=0.5)
    x, lengths = torch.randn(6, 3, 3), torch.tensor([6, 2, 4])
    mine.eval()
    first, _ = mine(x, lengths=lengths)
    assert torch.equal(first, mine(x, lengths=lengths)[0])
    mine.train()
    torch.manual_seed(4)
    dropped, _ = mine(x, lengths=lengths)
    assert not torch.allclose(dropped, first)
    torch.manual_seed(4)
    assert torch.equal(dropped, mine(x, lengths=lengths)[0])  # the torch RNG draws the masks


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("options", [{}, {"layer_norm": True}, {"recurrent_dropout": 0.25}])
def test_padding_values_never_reach_outputs_or_gradients(kind, bidirectional, options) -> None:
    # torch.nn's packed kernels never see the padding; with lengths= rnnkit runs over it, so a
    # nan or inf there must not leak into the outputs, the states or any gradient (on the
    # fused path and on the loop path, which layer_norm and recurrent_dropout select).
    kw = {"nonlinearity": kind[4:].lower()} if kind.startswith("RNN") else {}
    layer_type = getattr(rnn, kind.split("_")[0])
    layer = layer_type(3, 4, num_layers=2, bidirectional=bidirectional, **kw, **options)
    lengths = torch.tensor([5, 3, 1])
    clean = torch.randn(5, 3, 3)
    dirty = clean.clone()
    dirty[3:, 1], dirty[1:, 2] = float("nan"), float("inf")
    results = []
    for x in (clean, dirty):
        x = x.clone().requires_grad_()
        torch.manual_seed(0)  # the same recurrent dropout masks
        out, state = layer(x, lengths=lengths)
        (out.sum() + sum(s.sum() for s in parts(state))).backward()
        results.append([out, *parts(state), x.grad, *(p.grad for p in layer.parameters())])
        layer.zero_grad()
    for got, expected in zip(results[1], results[0], strict=True):
        assert torch.equal(got, expected)


def test_a_relu_layer_overflowing_in_its_padding_never_reaches_the_gradients() -> None:
    # A relu layer's padded steps can overflow (here h grows 10x a step after sequence 0's
    # length); the padded run's own backward would then take 0 * inf = nan into the weight
    # gradients, so such a batch runs on the packed kernels, as torch.nn does.
    ref, mine = pair("RNN_RELU", 2, 2, num_layers=2, bias=False)
    with torch.no_grad():
        for layer in (ref, mine):
            layer.weight_hh_l0.copy_(10 * torch.eye(2))
            layer.weight_ih_l0.copy_(torch.eye(2))
            layer.weight_hh_l1.copy_(0.5 * torch.eye(2))
            layer.weight_ih_l1.copy_(torch.eye(2))
    lengths = torch.tensor([2, 60])
    x = torch.zeros(60, 2, 2)
    x[:2, 0] = 1.0  # sequence 1 stays at h = 0; sequence 0 would reach inf in its padding
    out, h = mine(x, lengths=lengths)
    ref_packed, ref_h = ref(pack_padded_sequence(x, lengths, enforce_sorted=False))
    torch.testing.assert_close(out, pad_packed_sequence(ref_packed, total_length=60)[0])
    torch.testing.assert_close(h, ref_h)
    grads = torch.autograd.grad(out.sum() + h.sum(), list(mine.parameters()))
    ref_grads = torch.autograd.grad(
        pad_packed_sequence(ref_packed)[0].sum() + ref_h.sum(), list(ref.parameters())
    )
    for a, b in zip(grads, ref_grads, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b)
