"""rnnkit.nn.RNN/LSTM/GRU against torch.nn on both paths: outputs, states and every gradient."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit.nn as rnn

KINDS = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


def make_pair(kind: str, input_size: int, hidden: int, implementation: str, **kw):
    """A torch.nn layer and an rnnkit layer with the same weights."""
    if kind.startswith("RNN"):
        kw["nonlinearity"] = kind[4:].lower()
        kind = "RNN"
    ref = getattr(nn, kind)(input_size, hidden, **kw)
    mine = getattr(rnn, kind)(input_size, hidden, implementation=implementation, **kw)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def states(hx) -> list[torch.Tensor]:
    return list(hx) if isinstance(hx, tuple) else [hx]


def run_torch(ref, x, lengths, batch_first: bool, hx=None):
    """torch.nn's answer; with lengths, on packed input (then padded back to T steps)."""
    if lengths is None:
        return ref(x, hx)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    out, final = ref(packed, hx)
    out, _ = pad_packed_sequence(
        out, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0]
    )
    return out, final


@settings(max_examples=120, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    implementation=st.sampled_from(["loop", "fused"]),
    input_size=st.integers(1, 6),
    hidden=st.integers(2, 8),
    num_layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    batch_first=st.booleans(),
    bias=st.booleans(),
    use_lengths=st.booleans(),
    use_hx=st.booleans(),
    proj=st.booleans(),
    batch=st.integers(1, 4),
    time=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_nn(
    kind, implementation, input_size, hidden, num_layers, bidirectional, batch_first, bias,
    use_lengths, use_hx, proj, batch, time, seed,
) -> None:  # fmt: skip
    torch.manual_seed(seed)
    kw = dict(
        num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias
    )
    if kind == "LSTM" and proj:
        kw["proj_size"] = hidden - 1
    ref, mine = make_pair(kind, input_size, hidden, implementation, **kw)
    shape = (batch, time, input_size) if batch_first else (time, batch, input_size)
    x = torch.randn(shape)
    lengths = torch.randint(1, time + 1, (batch,)) if use_lengths else None
    hx = None
    if use_hx:
        out_size = kw.get("proj_size") or hidden
        dirs = num_layers * (2 if bidirectional else 1)
        hx = torch.randn(dirs, batch, out_size)
        if kind == "LSTM":
            hx = (hx, torch.randn(dirs, batch, hidden))
    out_ref, final_ref = run_torch(ref, x, lengths, batch_first, hx)
    out_mine, final_mine = mine(x, hx, lengths=lengths)
    assert mine.last_path == implementation
    torch.testing.assert_close(out_mine, out_ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(states(final_mine), states(final_ref), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(out_ref)
    loss_ref = (out_ref * weights).sum() + sum(s.sum() for s in states(final_ref))
    loss_mine = (out_mine * weights).sum() + sum(s.sum() for s in states(final_mine))
    loss_ref.backward()
    loss_mine.backward()
    for (name, p_ref), p_mine in zip(ref.named_parameters(), mine.parameters(), strict=True):
        torch.testing.assert_close(p_mine.grad, p_ref.grad, atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("implementation", ["loop", "fused"])
@pytest.mark.parametrize("kind", KINDS)
def test_packed_sequence_in_packed_out(kind: str, implementation: str) -> None:
    torch.manual_seed(1)
    ref, mine = make_pair(kind, 3, 5, implementation, num_layers=2, bidirectional=True)
    x = torch.randn(6, 4, 3)
    packed = pack_padded_sequence(x, torch.tensor([2, 6, 1, 4]), enforce_sorted=False)
    out_ref, final_ref = ref(packed)
    out_mine, final_mine = mine(packed)
    assert isinstance(out_mine, type(out_ref))
    torch.testing.assert_close(out_mine.data, out_ref.data, atol=1e-5, rtol=1e-5)
    assert torch.equal(out_mine.batch_sizes, out_ref.batch_sizes)
    assert torch.equal(out_mine.sorted_indices, out_ref.sorted_indices)
    for a, b in zip(states(final_mine), states(final_ref), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_same_initialisation_as_torch_under_a_seed(kind: str) -> None:
    name = "RNN" if kind.startswith("RNN") else kind
    extra = {"proj_size": 3} if kind == "LSTM" else {}
    torch.manual_seed(7)
    ref = getattr(nn, name)(4, 6, num_layers=2, bidirectional=True, **extra)
    torch.manual_seed(7)
    mine = getattr(rnn, name)(4, 6, num_layers=2, bidirectional=True, **extra)
    assert list(mine.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():
        assert torch.equal(mine.state_dict()[key], value), key
    ref.load_state_dict(mine.state_dict(), strict=True)  # rnnkit -> torch.nn loads unchanged


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input(kind: str) -> None:
    ref, mine = make_pair(kind, 3, 4, "loop", num_layers=2)
    x = torch.randn(5, 3)
    out_ref, final_ref = ref(x)
    out_mine, final_mine = mine(x)
    torch.testing.assert_close(out_mine, out_ref, atol=1e-6, rtol=1e-5)
    for a, b in zip(states(final_mine), states(final_ref), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_loop_equals_a_naive_per_step_loop_over_the_cell(kind: str) -> None:
    """One layer on the loop path equals calling the matching torch cell step by step."""
    torch.manual_seed(2)
    _, mine = make_pair(kind, 3, 4, "loop")
    cell = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell}.get(kind, nn.RNNCell)
    cell_kw = {"nonlinearity": mine.nonlinearity} if kind.startswith("RNN") else {}
    ref_cell = cell(3, 4, **cell_kw)
    ref_cell.load_state_dict({k.removesuffix("_l0"): v for k, v in mine.state_dict().items()})
    x = torch.randn(6, 2, 3)
    state = None
    outputs = []
    for t in range(6):
        state = ref_cell(x[t], state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    out, _ = mine(x)
    torch.testing.assert_close(out, torch.stack(outputs), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_inference_without_grad_matches_torch_nn(kind: str) -> None:
    """Grad mode off, the loop runs the plain step functions: same results as torch.nn's."""
    torch.manual_seed(3)
    ref, mine = make_pair(kind, 3, 5, "loop", num_layers=2, bidirectional=True)
    x, lengths = torch.randn(6, 4, 3), torch.tensor([6, 2, 5, 1])
    with torch.no_grad():
        out, final = mine(x, lengths=lengths)
        ref_out, ref_final = run_torch(ref, x, lengths, batch_first=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    for a, b in zip(states(final), states(ref_final), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_gradcheck_float64_bidirectional_with_lengths() -> None:
    torch.manual_seed(0)
    layer = rnn.LSTM(2, 3, num_layers=2, bidirectional=True, implementation="loop").double()
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])
    assert torch.autograd.gradcheck(lambda x: layer(x, lengths=lengths)[0], (x,))
