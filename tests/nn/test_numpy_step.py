"""Token-by-token steps in numpy: equal to the layers' forward, for every kind, both float
dtypes, with and without bias, from inputs or from a table of input gates, with products
whole or in blocks of rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

import rnnkit.nn as rnn
from rnnkit.errors import InvalidArgumentError
from rnnkit.nn import numpy_step
from rnnkit.nn.numpy_step import (
    NumpyLayerStepper,
    RowBlocks,
    cores_to_blas,
    numpy_steppable,
    one_blas_thread,
    product,
    row_blocks,
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
    multiplied, looked_up = NumpyLayerStepper(layer), NumpyLayerStepper(layer, inputs=embedding)
    table = looked_up.table
    assert multiplied.table is None
    assert table.shape == (11, layer.flat_weights[0].shape[0]) and table.flags.c_contiguous
    states_a = states_b = zero_states(layer, 2, np.float32)
    for t in range(ids.shape[1]):
        top_a, states_a = multiplied(embedding[ids[:, t]], states_a)
        top_b, states_b = looked_up(None, states_b, input_gates=table[ids[:, t]])
        np.testing.assert_allclose(top_b, top_a, rtol=1e-5, atol=1e-6)
    for a, b in zip(states_a, states_b, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", list(KINDS))
def test_steps_with_row_blocks_equal_the_forward(kind: str, monkeypatch) -> None:
    """Every per-step product in 2 blocks of rows (forced), from inputs: the forward's results."""
    monkeypatch.setenv("RNNKIT_ROW_BLOCKS", "1")
    torch.manual_seed(3)
    layer = KINDS[kind](input_size=5, hidden_size=32, num_layers=2).eval()
    x = torch.randn(3, 6, 5)
    with torch.no_grad():
        expected, expected_state = layer(x.transpose(0, 1))
    stepper = NumpyLayerStepper(layer, vectors=3)
    states = zero_states(layer, 3, np.float32)
    outputs = []
    for t in range(x.shape[1]):
        top, states = stepper(x[:, t].numpy(), states)
        outputs.append(torch.from_numpy(np.ascontiguousarray(top)))
    blocked = [w.input if kind == "gru" else w.stacked for w in stepper.layers]
    assert all(len(w.bounds) == 2 for w in blocked)
    torch.testing.assert_close(torch.stack(outputs), expected, **TOLERANCE[torch.float32])
    torch.testing.assert_close(final_state(states, layer), expected_state, **TOLERANCE[torch.float32])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("rows", "blocks"), [(64, 2), (65, 4), (70, 3), (16, 1)])
def test_row_blocks_equal_one_product(dtype, rows: int, blocks: int) -> None:
    """Blocks cover every row once, the last one shorter where they do not divide evenly."""
    generator = np.random.default_rng(0)
    weight = generator.standard_normal((rows, 40)).astype(dtype)
    x = generator.standard_normal((5, 40)).astype(dtype)
    split = RowBlocks(weight, blocks)
    assert split.bounds[0][0] == 0 and split.bounds[-1][1] == rows and len(split.bounds) == blocks
    assert all(a[1] == b[0] for a, b in zip(split.bounds, split.bounds[1:], strict=False))
    got = split(x)
    assert got.shape == (5, rows) and got.dtype == dtype
    np.testing.assert_allclose(got, product(weight, x), rtol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(RowBlocks(weight)(x), product(weight, x))


def test_row_blocks_take_the_fewest_blocks_measured_faster_once(fresh_measurements, monkeypatch):
    """2, 4, 8 ... blocks are measured in turn against one product, with numpy's BLAS pool
    measured before its rival (it spins after); the first yes is kept, and cached."""
    answers = iter([False, True])  # 2 blocks no, 4 yes; a third question would fail
    asked = []

    def faster(candidate, baseline, interleaved):
        candidate(), baseline()  # both run
        asked.append(interleaved)
        return next(answers)

    monkeypatch.setattr(fresh_measurements, "faster", faster)
    weight = np.ones((256, 32), np.float32)
    assert len(row_blocks(weight, 4).bounds) == 4
    assert asked == [False, False]
    assert len(row_blocks(weight, 4).bounds) == 4 and len(asked) == 2  # the cached answers
    assert len(row_blocks(weight, 1).bounds) == 1  # one vector: a matrix-vector product
    assert len(row_blocks(weight, numpy_step.MAX_BLOCKED_VECTORS + 1).bounds) == 1
    assert len(row_blocks(np.ones((31, 32), np.float32), 4).bounds) == 1  # blocks under 16 rows
    assert len(asked) == 2


@pytest.mark.parametrize(("override", "blocks"), [("0", 1), ("1", 2)])
def test_the_row_blocks_override_decides_without_measuring(
    fresh_measurements, monkeypatch, override: str, blocks: int
) -> None:
    monkeypatch.setenv("RNNKIT_ROW_BLOCKS", override)
    monkeypatch.setattr(fresh_measurements, "faster", lambda *a, **k: pytest.fail("measured"))
    assert len(row_blocks(np.ones((64, 8), np.float32), 4).bounds) == blocks


def test_the_row_blocks_measurement_runs_here(fresh_measurements) -> None:
    assert len(row_blocks(np.ones((64, 32), np.float32), 4).bounds) in (1, 2, 4)


@pytest.mark.parametrize("looked_up", [False, True])
def test_the_layout_is_measured_when_the_stepper_is_made(
    fresh_measurements, monkeypatch, looked_up: bool
) -> None:
    """Every product a step runs is laid out (and measured) by the constructor, outside
    cores_to_blas (whose torch thread count of 1 would key and skew the answers); with a
    table of input gates, W_hh alone, not the stacked weight."""
    shapes = []
    monkeypatch.setattr(numpy_step, "_blocks_faster", lambda shape, *_: shapes.append(shape))
    layer = rnn.LSTM(4, 8, num_layers=2).eval()
    inputs = np.ones((11, 4), np.float32) if looked_up else None
    stepper = NumpyLayerStepper(layer, vectors=4, inputs=inputs)
    first = (32, 8) if looked_up else (32, 12)
    assert set(shapes) == {first, (32, 16)}
    measured_at_construction = len(shapes)
    with cores_to_blas():
        if looked_up:
            stepper(None, zero_states(layer, 4, np.float32), input_gates=stepper.table[[0, 1, 2, 3]])
        else:
            stepper(np.ones((4, 4), np.float32), zero_states(layer, 4, np.float32))
    assert len(shapes) == measured_at_construction


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
