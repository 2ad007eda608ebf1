"""The attributes torch code reads on torch.nn's recurrent modules (_flat_weights,
_flat_weights_names, all_weights, _all_weights), kept in sync through weight_norm,
parametrizations, spectral_norm, pruning, .to() and load_state_dict, on both paths."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.utils.prune as prune
from torch import nn

import rnnkit.nn as rnn

PAIRS = [(nn.RNN, rnn.RNN, {}), (nn.LSTM, rnn.LSTM, {"proj_size": 2}), (nn.GRU, rnn.GRU, {})]
IDS = ["RNN", "LSTM", "GRU"]


def _pair(ref_cls, mine_cls, options, **kw):
    torch.manual_seed(0)
    ref = ref_cls(3, 4, 2, bidirectional=True, **options)
    mine = mine_cls(3, 4, 2, bidirectional=True, **options, **kw)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


@pytest.mark.parametrize(("ref_cls", "mine_cls", "options"), PAIRS, ids=IDS)
def test_flat_weight_attributes_match_torch(ref_cls, mine_cls, options) -> None:
    ref, mine = _pair(ref_cls, mine_cls, options)
    assert mine._flat_weights_names == ref._flat_weights_names
    assert mine._all_weights == ref._all_weights
    for got, want in zip(mine._flat_weights, ref._flat_weights, strict=True):
        assert torch.equal(got, want)
    for got_layer, want_layer in zip(mine.all_weights, ref.all_weights, strict=True):
        assert [tuple(w.shape) for w in got_layer] == [tuple(w.shape) for w in want_layer]
    assert mine._flat_weights[0] is mine.weight_ih_l0


REWRITES = {  # name -> function(module) that replaces a weight the way torch's utilities do
    "weight_norm": lambda m: torch.nn.utils.weight_norm(m, "weight_hh_l0"),
    "parametrizations.weight_norm": lambda m: torch.nn.utils.parametrizations.weight_norm(
        m, "weight_hh_l1_reverse"
    ),
    "spectral_norm": lambda m: torch.nn.utils.spectral_norm(m, "weight_ih_l1"),
    "parametrizations.spectral_norm": lambda m: torch.nn.utils.parametrizations.spectral_norm(
        m, "weight_hh_l0"
    ),
    "prune": lambda m: prune.l1_unstructured(m, "weight_ih_l0", amount=0.5),
}


@pytest.mark.parametrize("implementation", ["fused", "loop"])
@pytest.mark.parametrize("rewrite", list(REWRITES))
@pytest.mark.parametrize(("ref_cls", "mine_cls", "options"), PAIRS, ids=IDS)
def test_weight_rewrites_act_on_both_paths(ref_cls, mine_cls, options, rewrite, implementation):
    """After weight_norm, spectral_norm or pruning, rnnkit computes with the rewritten weight
    (as torch.nn does), its _flat_weights hold it, and gradients reach the new parameters."""
    ref, mine = _pair(ref_cls, mine_cls, options, implementation=implementation)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.nn.utils.weight_norm's
        for module in (ref, mine):
            torch.manual_seed(1)
            REWRITES[rewrite](module)
            # torch.nn evaluates a parametrized weight twice per forward (a change check, then
            # the refresh), rnnkit once; spectral_norm's power iteration advances at each
            # evaluation in training mode, so compare it in eval mode, where u and v stay put.
            module.train(rewrite != "parametrizations.spectral_norm")
    x = torch.randn(5, 2, 3)
    torch.manual_seed(2)
    want = ref(x)[0]
    torch.manual_seed(2)
    got = mine(x)[0]
    torch.testing.assert_close(got, want)
    name = {"prune": "weight_ih_l0", "spectral_norm": "weight_ih_l1"}.get(
        rewrite.split(".")[-1], "weight_hh_l1_reverse" if "parametrizations.weight" in rewrite
        else "weight_hh_l0",
    )  # fmt: skip
    index = mine._flat_weights_names.index(name)
    assert torch.equal(mine._flat_weights[index], getattr(mine, name))
    got.sum().backward()
    want.sum().backward()
    mine_grads = {n: p.grad for n, p in mine.named_parameters()}
    for n, p in ref.named_parameters():
        torch.testing.assert_close(mine_grads[n], p.grad, msg=n)


@pytest.mark.parametrize(("ref_cls", "mine_cls", "options"), PAIRS, ids=IDS)
def test_flat_weights_follow_to_and_load_state_dict(ref_cls, mine_cls, options) -> None:
    ref, mine = _pair(ref_cls, mine_cls, options)
    mine.to(torch.float64)
    assert all(w.dtype == torch.float64 for w in mine._flat_weights)
    assert all(w is p for w, p in zip(mine._flat_weights, mine.parameters(), strict=True))
    ref.to(torch.float64)
    with torch.no_grad():
        for p in ref.parameters():
            p.mul_(2)
    mine.load_state_dict(ref.state_dict())
    for got, want in zip(mine._flat_weights, ref._flat_weights, strict=True):
        assert torch.equal(got, want)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(mine(x)[0], ref(x)[0])


@pytest.mark.parametrize("cell_type", [rnn.RNNCell, rnn.LSTMCell, rnn.GRUCell])
def test_cells_trace_and_script(cell_type) -> None:
    """torch.jit.trace records the cell; torch.jit.script compiles torch.nn's cell holding the
    same parameters (rnnkit.nn.scripting)."""
    torch.manual_seed(0)
    cell = cell_type(3, 4)
    x = torch.randn(2, 3)
    state = (torch.zeros(2, 4), torch.zeros(2, 4)) if cell_type is rnn.LSTMCell else torch.zeros(2, 4)
    with warnings.catch_warnings():  # torch.nn's cells trace without a TracerWarning
        warnings.simplefilter("error", torch.jit.TracerWarning)
        traced = torch.jit.trace(cell, (x, state))
        traced_alone = torch.jit.trace(cell, (x,))
    torch.testing.assert_close(traced(x, state), cell(x, state))
    wider = torch.randn(5, 3)  # the trace generalises to another batch size
    torch.testing.assert_close(traced_alone(wider), cell(wider))
    scripted = torch.jit.script(cell)
    torch.testing.assert_close(scripted(x, state), cell(x, state))
    assert scripted.weight_ih is cell.weight_ih
