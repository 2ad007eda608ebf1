"""Second derivatives (create_graph=True) of the layers: exact on both paths, never zero.

The loop path's hand-written backward (rnnkit.nn.bptt) must itself be differentiable when a
higher-order graph is built; gradgradcheck compares it with finite differences, and a gradient
penalty is compared with torch.nn's (whose CPU float64 kernels are differentiable twice).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd import gradgradcheck

import rnnkit.nn as rnn

CASES = [  # (rnnkit class, torch.nn class, constructor options)
    (rnn.RNN, nn.RNN, {"nonlinearity": "tanh"}),
    (rnn.RNN, nn.RNN, {"nonlinearity": "relu"}),
    (rnn.LSTM, nn.LSTM, {}),
    (rnn.LSTM, nn.LSTM, {"proj_size": 1}),
    (rnn.GRU, nn.GRU, {}),
]
IDS = ["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"]


def _outputs(layer, x, lengths):
    out, final = layer(x, lengths=lengths)
    return (out, *(final if isinstance(final, tuple) else (final,)))


@pytest.mark.parametrize("implementation", ["loop", "auto"])
@pytest.mark.parametrize("time", [1, 3])
@pytest.mark.parametrize(("cls", "_ref", "options"), CASES, ids=IDS)
def test_gradgradcheck_with_lengths_bidirectional(cls, _ref, options, time, implementation):
    """float64 finite differences of the gradient: every kind, both paths, T = 1 and T > 1
    (auto sends T = 1 to the loop path), with lengths, bidirectional, proj_size."""
    torch.manual_seed(0)
    layer = cls(2, 2, bidirectional=True, implementation=implementation, **options).double()
    x = torch.randn(time, 2, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([time, max(1, time - 1)])
    params = tuple(layer.parameters())
    assert gradgradcheck(lambda x, *p: _outputs(layer, x, lengths), (x, *params), fast_mode=True)
    assert layer.last_path == ("loop" if implementation == "loop" or time == 1 else "fused")


@pytest.mark.parametrize("implementation", ["loop", "fused"])
@pytest.mark.parametrize(("cls", "ref_cls", "options"), CASES, ids=IDS)
def test_gradient_penalty_matches_torch(cls, ref_cls, options, implementation):
    """d/dW of |dL/dx|^2 (a gradient penalty) equals torch.nn's; it is not zero."""
    torch.manual_seed(1)
    ref = ref_cls(3, 4, num_layers=2, **options).double()
    mine = cls(3, 4, num_layers=2, implementation=implementation, **options).double()
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    penalties = []
    for layer in (ref, mine):
        out, _ = layer(x)
        (dx,) = torch.autograd.grad((out * out.detach().sin()).sum(), x, create_graph=True)
        penalties.append(torch.autograd.grad((dx * dx).sum(), tuple(layer.parameters())))
    assert any(g.abs().sum() > 0 for g in penalties[1])
    for want, got in zip(*penalties, strict=True):
        torch.testing.assert_close(got, want)
