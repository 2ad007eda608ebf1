"""Token-by-token steps in numpy: equal to the layers' forward, for every kind, both float
dtypes, with and without bias, from inputs or from a table of input gates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

import rnnkit.nn as rnn
from rnnkit.errors import InvalidArgumentError
from rnnkit.nn.numpy_step import (
    NumpyLayerStepper,
    cores_to_blas,
    numpy_steppable,
    one_blas_thread,
)

KINDS = {
    "lstm": lambda **kw: rnn.LSTM(**kw),
    "gru": lambda **kw: rnn.GRU(**kw),
    "rnn_tanh": lambda **kw: rnn.RNN(**kw),
    "rnn_relu": lambda **kw: rnn.RNN(nonlinearity="relu", **kw),
}

TOLERANCE = {
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
    torch.float64: {"rtol": 1e-12, "atol": 1e-13},
}


def zero_states(layer, rows: int, dtype: torch.dtype) -> list[tuple[np.ndarray, ...]]:
    parts = 2 if layer.kernel == "lstm" else 1
    shape = (rows, layer.hidden_size)
    return [tuple(np.zeros(shape, dtype) for _ in range(parts)) for _ in range(layer.num_layers)]


def final_state(states: list[tuple[np.ndarray, ...]], layer) -> torch.Tensor | tuple:
    """Per-layer arrays -> the forward's (L, N, H) state(s)."""
    joined = [torch.stack([torch.from_numpy(s[k]) for s in states]) for k in range(len(states[0]))]
    return tuple(joined) if layer.kernel == "lstm" else joined[0]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("rows", [1, 3])
def test_steps_equal_the_forward(kind: str, dtype: torch.dtype, bias: bool, rows: int) -> None:
    torch.manual_seed(0)
    layer = KINDS[kind](input_size=5, hidden_size=7, num_layers=2, bias=bias).to(dtype).eval()
    x = torch.randn(rows, 9, 5, dtype=dtype)
    with torch.no_grad():
        expected, expected_state = layer(x.transpose(0, 1))  # (T, N, H)
    stepper = NumpyLayerStepper(layer)
    states = zero_states(layer, rows, x.numpy().dtype)
    outputs = []
    for t in range(x.shape[1]):
        top, states = stepper(x[:, t].numpy(), states)
        outputs.append(torch.from_numpy(np.ascontiguousarray(top)))
    tolerance = TOLERANCE[dtype]
    torch.testing.assert_close(torch.stack(outputs), expected, **tolerance)
    torch.testing.assert_close(final_state(states, layer), expected_state, **tolerance)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_table_of_input_gates_gives_the_same_steps(kind: str) -> None:
    """Looking the first layer's input gates up in a table (a character model's embedding
    rows) equals multiplying the embedded input."""
    torch.manual_seed(1)
    layer = KINDS[kind](input_size=4, hidden_size=6, num_layers=2).eval()
    embedding = torch.randn(11, 4).numpy()
    ids = np.array([[3, 0, 10, 3, 7], [1, 1, 2, 9, 4]])
    multiplied, looked_up = NumpyLayerStepper(layer), NumpyLayerStepper(layer)
    table = looked_up.input_table(embedding)
    assert table.shape == (11, layer.flat_weights[0].shape[0]) and table.flags.c_contiguous
    states_a = states_b = zero_states(layer, 2, np.float32)
    for t in range(ids.shape[1]):
        top_a, states_a = multiplied(embedding[ids[:, t]], states_a)
        top_b, states_b = looked_up(None, states_b, input_gates=table[ids[:, t]])
        np.testing.assert_allclose(top_b, top_a, rtol=1e-5, atol=1e-6)
    for a, b in zip(states_a, states_b, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_the_weights_are_read_once_and_not_shared() -> None:
    """The stepper keeps rearranged copies: changing the layer afterwards changes nothing,
    and stepping never writes into the layer's weights."""
    torch.manual_seed(2)
    layer = rnn.LSTM(3, 4).eval()
    before = [w.detach().clone() for w in layer.flat_weights]
    stepper = NumpyLayerStepper(layer)
    x, states = np.ones((1, 3), np.float32), zero_states(layer, 1, np.float32)
    first, _ = stepper(x, states)
    assert all(torch.equal(w, b) for w, b in zip(layer.flat_weights, before, strict=True))
    with torch.no_grad():
        layer.weight_hh_l0.add_(1.0)
    again, _ = stepper(x, states)
    np.testing.assert_array_equal(again, first)


@pytest.mark.parametrize(
    "make",
    [
        lambda: rnn.LSTM(3, 4).bfloat16(),
        lambda: rnn.LSTM(3, 4).half(),
        lambda: rnn.GRU(3, 4, bidirectional=True),
        lambda: rnn.LSTM(3, 4, proj_size=2),
        lambda: rnn.LSTM(3, 4, layer_norm=True),
    ],
    ids=["bf16", "fp16", "bidirectional", "proj_size", "layer_norm"],
)
def test_layers_it_cannot_step_are_refused_by_name(make) -> None:
    layer = make()
    assert not numpy_steppable(layer)
    with pytest.raises(InvalidArgumentError, match="layer="):
        NumpyLayerStepper(layer)


def blas_threads() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_one_blas_thread_inside_and_restored_after() -> None:
    before = blas_threads()
    with one_blas_thread():
        assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_cores_to_blas_gives_torchs_threads_to_blas_and_restores_both(threads) -> None:
    before, blas_before = torch.get_num_threads(), blas_threads()
    torch.set_num_threads(threads)
    try:
        with cores_to_blas():
            assert torch.get_num_threads() == 1
            assert blas_threads() and all(n == threads for n in blas_threads())
        assert torch.get_num_threads() == threads
        assert blas_threads() == blas_before
    finally:
        torch.set_num_threads(before)


def test_cores_to_blas_leaves_a_native_thread_pool_alone(monkeypatch) -> None:
    monkeypatch.setattr("rnnkit.nn.numpy_step._openmp_threads", lambda: False)
    threads, blas_before = torch.get_num_threads(), blas_threads()
    with cores_to_blas():
        assert torch.get_num_threads() == threads
        assert all(n == 1 for n in blas_threads())
    assert torch.get_num_threads() == threads and blas_threads() == blas_before
