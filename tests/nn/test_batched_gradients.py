"""vmap's batched gradients (``autograd.grad(..., is_grads_batched=True)``, ``jacobian(...,
vectorize=True)``, gradcheck's batched check as PyTorch's own module tests run it) through the
layers' hand-written backwards: the same gradients as one backward per vector, on every path.
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn as rnn

KINDS = {
    "rnn_tanh": (rnn.RNN, {}),
    "rnn_relu": (rnn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnn.LSTM, {}),
    "lstm_proj": (rnn.LSTM, {"proj_size": 2}),
    "gru": (rnn.GRU, {}),
}


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("time", [1, 3])  # T = 1 takes the loop path, T = 3 the fused ones
@pytest.mark.parametrize("kind", KINDS)
def test_batched_gradients_equal_one_backward_per_vector(kind, time, bidirectional, layers, packed):
    cls, options = KINDS[kind]
    torch.manual_seed(0)
    layer = cls(3, 4, num_layers=layers, bidirectional=bidirectional, **options).double()
    x = torch.randn(time, 2, 3, dtype=torch.float64, requires_grad=True)
    source = pack_padded_sequence(x, torch.tensor([time, max(time - 1, 1)])) if packed else x
    out, final = layer(source)
    out = out.data if packed else out
    h_n = final[0] if isinstance(final, tuple) else final
    inputs = [x, *layer.parameters()]
    vectors = (torch.randn(3, *out.shape, dtype=out.dtype), torch.randn(3, *h_n.shape, dtype=h_n.dtype))
    batched = torch.autograd.grad(
        (out, h_n), inputs, vectors, retain_graph=True, is_grads_batched=True
    )
    for index in range(3):
        single = torch.autograd.grad(
            (out, h_n), inputs, (vectors[0][index], vectors[1][index]), retain_graph=True
        )
        for got, expected in zip(batched, single, strict=True):
            torch.testing.assert_close(got[index], expected)


@pytest.mark.parametrize("time", [1, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_with_batched_gradients(kind, time):
    """PyTorch's module tests call gradcheck with check_batched_grad=True."""
    cls, options = KINDS[kind]
    torch.manual_seed(0)
    layer = cls(2, 3, **options).double()
    x = torch.randn(time, 2, 2, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x: layer(x)[0], (x,), check_batched_grad=True)


def test_vectorized_jacobian_equals_torch_nn():
    torch.manual_seed(0)
    mine = rnn.RNN(2, 3).double()
    reference = torch.nn.RNN(2, 3).double()
    reference.load_state_dict(mine.state_dict())
    x = torch.randn(4, 1, 2, dtype=torch.float64)
    jacobians = [
        torch.autograd.functional.jacobian(lambda x, m=m: m(x)[0], x, vectorize=True)
        for m in (mine, reference)
    ]
    torch.testing.assert_close(*jacobians)
