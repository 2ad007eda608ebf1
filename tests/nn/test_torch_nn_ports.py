"""A slice of PyTorch's recurrent-module tests in ``test/test_nn.py`` (TestNN / TestNNDeviceType:
test_RNN_cell_no_broadcasting, test_RNN_input_size_zero, test_rnn_weight_norm,
test_rnn_retain_variables, test_RNN_dropout, test_RNN_change_dropout, test_RNN_dropout_state,
test_rnn_initial_hidden_state, test_RNN_nonlinearity_passed_as_arg, test_LSTM_cell,
test_rnn_args_check, test_projections_errors_on_gru_and_rnn), rewritten for pytest with
rnnkit's classes and run on both paths; BSD-3-Clause, (c) PyTorch contributors.
"""

from __future__ import annotations

import pickle
import warnings

import pytest
import torch

import rnnkit.nn as rnn

LAYERS = [rnn.RNN, rnn.LSTM, rnn.GRU]
CELLS = [rnn.RNNCell, rnn.GRUCell, rnn.LSTMCell]
PATHS = ["auto", "loop"]


def _call_cell(cell, x, h):
    return cell(x, (h, h)) if isinstance(cell, rnn.LSTMCell) else cell(x, h)


@pytest.mark.parametrize("cell_type", CELLS)
def test_cell_does_not_broadcast(cell_type) -> None:
    """test_RNN_cell_no_broadcasting: sizes that would broadcast raise RuntimeError."""
    cell = cell_type(10, 20)
    with pytest.raises(RuntimeError):
        _call_cell(cell, torch.randn(3, 10), torch.randn(3, 1))
    with pytest.raises(RuntimeError):
        _call_cell(cell, torch.randn(3, 1), torch.randn(3, 20))
    with pytest.raises(RuntimeError):
        _call_cell(cell, torch.randn(3, 10), torch.randn(1, 20))


@pytest.mark.parametrize("implementation", PATHS)
@pytest.mark.parametrize("layer_type", LAYERS)
def test_empty_batch(layer_type, implementation) -> None:
    """test_RNN_input_size_zero: a batch of 0 sequences runs forward and backward."""
    layer = layer_type(3, 4, implementation=implementation)
    out, _ = layer(torch.zeros(5, 0, 3))
    assert out.shape == (5, 0, 4)
    out.sum().backward()


@pytest.mark.parametrize("cell_type", CELLS)
def test_cells_with_zero_sizes(cell_type) -> None:
    out = _call_cell(cell_type(0, 3), torch.zeros(5, 0), torch.zeros(5, 3))
    assert (out[0] if isinstance(out, tuple) else out).shape == (5, 3)
    out = _call_cell(cell_type(10, 0), torch.zeros(3, 10), torch.zeros(3, 0))
    assert (out[0] if isinstance(out, tuple) else out).shape == (3, 0)


@pytest.mark.parametrize("name", ["weight_ih_l0", "weight_hh_l0", "bias_hh_l0"])
def test_weight_norm_and_its_removal(name) -> None:
    """test_rnn_weight_norm: one fewer Parameter in _flat_weights, restored on removal."""
    layer = rnn.LSTM(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.nn.utils.weight_norm(layer, name=name)
    assert sum(isinstance(p, torch.nn.Parameter) for p in layer._flat_weights) == 3
    torch.nn.utils.remove_weight_norm(layer, name=name)
    assert sum(isinstance(p, torch.nn.Parameter) for p in layer._flat_weights) == 4
    assert layer._parameters[name] is getattr(layer, name)


@pytest.mark.parametrize("implementation", PATHS)
@pytest.mark.parametrize("layer_type", LAYERS)
def test_backward_with_retained_graph_repeats(layer_type, implementation) -> None:
    """test_rnn_retain_variables: backward(retain_graph=True) gives the same grads each time."""
    torch.manual_seed(0)
    layer = layer_type(10, 20, num_layers=2, implementation=implementation).double()
    x = torch.randn(5, 6, 10, dtype=torch.float64, requires_grad=True)
    output = layer(x)[0].sum()
    results = []
    for _ in range(3):
        layer.zero_grad()
        x.grad = None
        output.backward(retain_graph=True)
        results.append([x.grad.clone()] + [p.grad.clone() for p in layer.parameters()])
    for again in results[1:]:
        for a, b in zip(results[0], again, strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("implementation", ["fused", "loop"])
@pytest.mark.parametrize("p", [0, 0.276, 0.731, 1])
def test_dropout_scales_kept_units(p, implementation) -> None:
    """test_RNN_dropout: all-ones weights; after dropout between the layers every output is
    a multiple of 10 / (1 - p) (and all zero at p = 1)."""
    torch.manual_seed(0)
    layer = rnn.RNN(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu",
                    implementation=implementation).double()  # fmt: skip
    with torch.no_grad():
        for w in layer.parameters():
            w.fill_(1)
    out, _ = layer(torch.ones(1, 1, 10, dtype=torch.float64))
    if p == 1:
        assert torch.equal(out, torch.zeros_like(out))
        return
    assert out.min() == out.max()  # every unit of layer 2 sees the same kept sum
    units = out[0, 0, 0].item() * (1 - p) / 10  # layer-1 units kept
    assert abs(units - round(units)) < 1e-6 and 0 < round(units) <= 1000


@pytest.mark.parametrize("implementation", PATHS)
@pytest.mark.parametrize("training", [True, False])
def test_changing_dropout_after_construction(training, implementation) -> None:
    """test_RNN_change_dropout: ``layer.dropout = p`` takes effect; random only for 0 < p < 1
    in training."""
    torch.manual_seed(0)
    layer = rnn.RNN(100, 100, 2, dropout=0, nonlinearity="relu", implementation=implementation)
    layer.train(training)
    x, hx = torch.rand(3, 2, 100) * 10 + 10, torch.randn(2, 2, 100)
    for p in (0, 0.276, 0.731, 0, 1):
        layer.dropout = p
        (o1, h1), (o2, h2) = layer(x, hx), layer(x, hx)
        same = p in (0, 1) or not training
        assert torch.equal(o1, o2) == same and torch.equal(h1, h2) == same


def test_pickled_layer_keeps_dropout() -> None:
    """test_RNN_dropout_state: a pickled copy draws the same dropout masks from the same seed."""
    layer = rnn.LSTM(10, 100, 2, dropout=0.5).train()
    copy = pickle.loads(pickle.dumps(layer))
    x = torch.randn(4, 2, 10)
    torch.manual_seed(0)
    want = layer(x)[0]
    torch.manual_seed(0)
    assert torch.equal(copy(x)[0], want)


@pytest.mark.parametrize("implementation", PATHS)
@pytest.mark.parametrize("layer_type", LAYERS)
def test_zero_initial_state_is_the_default(layer_type, implementation) -> None:
    """test_rnn_initial_hidden_state."""
    layer = layer_type(30, 20, 2, implementation=implementation)
    x = torch.randn(10, 32, 30)
    h = torch.zeros(2, 32, 20)
    out1, _ = layer(x, (h, h) if layer_type is rnn.LSTM else h)
    out2, _ = layer(x)
    torch.testing.assert_close(out1, out2)


def test_nonlinearity_positional_and_proj_size_refused() -> None:
    """test_RNN_nonlinearity_passed_as_arg, test_projections_errors_on_gru_and_rnn."""
    assert rnn.RNN(2, 3, 1, "relu").nonlinearity == "relu"
    assert rnn.RNN(1, 10).nonlinearity == "tanh"
    for layer_type in (rnn.RNN, rnn.GRU):
        with pytest.raises(ValueError):
            layer_type(3, 4, proj_size=2)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cell_type", CELLS)
def test_cell_unrolled_backward(cell_type, bias) -> None:
    """test_LSTM_cell / test_RNN_cell: six steps of a cell, then backward."""
    cell = cell_type(10, 20, bias=bias)
    x, h = torch.randn(3, 10), torch.randn(3, 20)
    state = (h, torch.randn(3, 20)) if cell_type is rnn.LSTMCell else h
    for _ in range(6):
        state = cell(x, state)
    (sum(state) if isinstance(state, tuple) else state).sum().backward()
    assert all(p.grad is not None for p in cell.parameters())


@pytest.mark.parametrize("layer_type", LAYERS)
def test_args_check(layer_type) -> None:
    """test_rnn_args_check / test_projections_lstm_args_check: wrong input or state sizes
    raise RuntimeError (input 3, hidden 5, 2 layers, batch 4, 6 steps; bad size 7)."""
    for proj in [0, 3] if layer_type is rnn.LSTM else [0]:
        layer = layer_type(3, 5, 2, **({"proj_size": proj} if proj else {}))
        h_out = proj or 5

        def state(layers=2, batch=4, size=h_out, cell=5):
            h = torch.randn(layers, batch, size)
            return (h, torch.randn(layers, batch, cell)) if layer_type is rnn.LSTM else h

        good_x = torch.randn(6, 4, 3)
        for x, hx in [
            (torch.randn(6, 4, 7), state()),
            (good_x, state(layers=7)),
            (good_x, state(batch=7)),
            (good_x, state(size=7)),
            *([(good_x, state(cell=7))] if layer_type is rnn.LSTM else []),
        ]:
            with pytest.raises(RuntimeError):
                layer(x, hx)
        layer(good_x, state())
