"""rnnkit.nn.recording: recorded states equal the layer's own (fused) forward; gates obey the
cell equations they are named after."""

from __future__ import annotations

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.errors import InvalidArgumentError
from rnnkit.nn.recording import record

T, B, D, H = 7, 3, 5, 6


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"num_layers": 2, "bidirectional": True},
        {"num_layers": 2, "batch_first": True},
    ],
)
def test_recording_equals_the_fused_forward(kind: str, options: dict) -> None:
    torch.manual_seed(0)
    layer = rnn.LAYERS[kind](D, H, **options).eval()
    x = torch.randn((B, T, D) if options.get("batch_first") else (T, B, D))
    with torch.no_grad():
        output, final = layer(x)
        rec = record(layer, x)
    assert layer.last_path == "fused"
    dirs = 2 if options.get("bidirectional") else 1
    assert rec.h.shape == (options.get("num_layers", 1), T, B, dirs * H)
    expected = output.transpose(0, 1) if options.get("batch_first") else output
    _close(rec.output, expected)
    if kind == "lstm":
        _close(rec.h_n, final[0])
        _close(rec.c_n, final[1])
    else:
        _close(rec.h_n, final)
        assert rec.c is None and rec.c_n is None


def test_lstm_with_projection_and_layer_norm_equals_the_loop_path() -> None:
    torch.manual_seed(1)
    for layer in (
        rnn.LSTM(D, H, num_layers=2, proj_size=3).eval(),
        rnn.LSTM(D, H, bidirectional=True, layer_norm=True).eval(),
    ):
        with torch.no_grad():
            for p in layer.parameters():  # layer-norm gains off their defaults
                p.add_(0.1 * torch.randn_like(p))
            x = torch.randn(T, B, D)
            output, (h_n, c_n) = layer(x)
            rec = record(layer, x)
        _close(rec.output, output)
        _close(rec.h_n, h_n)
        _close(rec.c_n, c_n)


def _previous(values: torch.Tensor) -> torch.Tensor:
    """(L, T, B, H) values shifted one step later in time, zeros (the initial state) first."""
    return torch.cat([torch.zeros_like(values[:, :1]), values[:, :-1]], dim=1)


def test_lstm_gates_are_named_after_their_equations() -> None:
    """c_t = f*c_{t-1} + i*g and h_t = o*tanh(c_t): a swapped gate name fails this."""
    torch.manual_seed(2)
    with torch.no_grad():
        rec = record(rnn.LSTM(D, H).eval(), torch.randn(T, B, D))
    g, c_prev = rec.gates, _previous(rec.c)
    _close(rec.c, g["forget"] * c_prev + g["input"] * g["cell"])
    _close(rec.activation, torch.tanh(rec.c))
    _close(rec.h, g["output"] * rec.activation)


def test_gru_gates_are_named_after_their_equations() -> None:
    """h_t = (1 - z) * n + z * h_{t-1}; r only enters through n (checked by value range)."""
    torch.manual_seed(3)
    with torch.no_grad():
        rec = record(rnn.GRU(D, H).eval(), torch.randn(T, B, D))
    g = rec.gates
    _close(rec.h, (1 - g["update"]) * g["candidate"] + g["update"] * _previous(rec.h))
    assert (g["reset"] > 0).all() and (g["reset"] < 1).all()
    assert rec.activation is rec.h


def test_recording_rejects_user_cells_and_bad_shapes() -> None:
    with pytest.raises(InvalidArgumentError, match="layer="):
        record(torch.nn.LSTM(D, H), torch.randn(T, B, D))
    with pytest.raises(InvalidArgumentError, match="layer="):
        record(rnn.LSTM(D, H, cell=lambda i, h: torch.nn.LSTMCell(i, h)), torch.randn(T, B, D))
    with pytest.raises(InvalidArgumentError, match="x=\\(7, 3\\)"):
        record(rnn.GRU(D, H), torch.randn(T, B))
