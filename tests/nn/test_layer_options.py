"""Variable length, the options torch.nn lacks, path dispatch, and bad input on rnnkit.nn layers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import rnnkit.nn as rnn
from rnnkit.errors import InvalidArgumentError
from rnnkit.nn import cells

LAYERS = [rnn.RNN, rnn.LSTM, rnn.GRU]


def first_state(final):
    return final[0] if isinstance(final, tuple) else final


@settings(max_examples=25, deadline=None)
@given(
    layer_type=st.sampled_from(LAYERS),
    implementation=st.sampled_from(["loop", "fused"]),
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    extra=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_padding_changes_nothing_and_equals_running_alone(
    layer_type, implementation, lengths, extra, seed
) -> None:
    torch.manual_seed(seed)
    layer = layer_type(
        3, 4, num_layers=2, bidirectional=True, batch_first=True, implementation=implementation
    )
    time = max(lengths)
    x = torch.randn(len(lengths), time, 3)
    lens = torch.tensor(lengths)
    out, final = layer(x, lengths=lens)
    padded = torch.cat([x, torch.randn(len(lengths), extra, 3) * 100], dim=1)  # garbage padding
    out_padded, final_padded = layer(padded, lengths=lens)
    torch.testing.assert_close(out_padded[:, :time], out)
    assert torch.count_nonzero(out_padded[:, time:]) == 0
    torch.testing.assert_close(first_state(final_padded), first_state(final))
    for b, n in enumerate(lengths):  # each sequence alone, unpadded
        alone, alone_final = layer(x[b : b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone[0], atol=1e-6, rtol=1e-5)
        assert torch.count_nonzero(out[b, n:]) == 0
        torch.testing.assert_close(
            first_state(final)[:, b], first_state(alone_final)[:, 0], atol=1e-6, rtol=1e-5
        )


@pytest.mark.parametrize("layer_type", LAYERS)
def test_path_dispatch_is_visible(layer_type) -> None:
    layer = layer_type(3, 4)
    x = torch.randn(5, 2, 3)
    layer(x)
    assert layer.last_path == "fused"
    ln = layer_type(3, 4, layer_norm=True)
    ln(x)
    assert ln.last_path == "loop"
    rd = layer_type(3, 4, recurrent_dropout=0.3)
    rd(x)
    assert rd.last_path == "loop"
    rd.eval()
    rd(x)
    assert rd.last_path == "fused"  # the mask is off outside training
    with pytest.raises(InvalidArgumentError, match="implementation='fused'"):
        layer_type(3, 4, layer_norm=True, implementation="fused")(x)
    layer(x[:1])  # a single step (token-by-token generation) is cheaper on the loop
    assert layer.last_path == "loop"
    forced = layer_type(3, 4, implementation="fused")
    forced(x[:1])
    assert forced.last_path == "fused"


@pytest.mark.parametrize("layer_type", LAYERS)
def test_recurrent_dropout_is_variational_and_off_in_eval(layer_type) -> None:
    torch.manual_seed(0)
    plain = layer_type(3, 8, num_layers=2)
    dropped = layer_type(3, 8, num_layers=2, recurrent_dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(6, 4, 3)
    dropped.eval()
    torch.testing.assert_close(dropped(x)[0], plain(x)[0])
    dropped.train()
    first, second = dropped(x)[0], dropped(x)[0]
    assert not torch.allclose(first, second)  # a fresh mask per forward
    assert not torch.allclose(first, plain(x)[0])


def _steps_under_autograd(layer, x: torch.Tensor, h_mask: torch.Tensor) -> torch.Tensor:
    """One-layer output (T, B, H) from the cells' step functions, ``h_mask`` at every step."""
    w = {k.removesuffix("_l0"): v for k, v in layer.named_parameters()}
    gru = isinstance(layer, rnn.GRU)
    bias = w["bias_ih"] if gru else w["bias_ih"] + w["bias_hh"]
    gi = cells.input_projection(x, w["weight_ih"], bias, None)
    h = x.new_zeros(x.shape[1], layer.hidden_size)
    c, outputs = torch.zeros_like(h), []
    for t in range(x.shape[0]):
        if isinstance(layer, rnn.LSTM):
            h, c = cells.lstm_step(gi[t], h, c, w["weight_hh"], h_mask=h_mask)
        elif gru:
            h = cells.gru_step(gi[t], h, w["weight_hh"], w["bias_hh"], h_mask=h_mask)
        else:
            h = cells.simple_rnn_step(gi[t], h, w["weight_hh"], h_mask=h_mask)
        outputs.append(h)
    return torch.stack(outputs)


@pytest.mark.parametrize("layer_type", LAYERS)
def test_recurrent_dropout_is_one_mask_per_sequence_on_h_where_it_meets_w_hh(
    layer_type, monkeypatch
) -> None:
    """Gal & Ghahramani: the same mask at every step; outputs and gradients as autograd's."""
    torch.manual_seed(0)
    layer = layer_type(2, 6, recurrent_dropout=0.5)
    masks = []
    original = rnn.bptt.run

    def spy(*args):
        masks.append(args[-1])
        return original(*args)

    monkeypatch.setattr(rnn.bptt, "run", spy)
    x = torch.randn(5, 3, 2, requires_grad=True)
    out, _ = layer(x)
    (mask,) = masks  # one draw for the whole sequence
    assert mask.shape == (3, 6) and set(mask.unique().tolist()) == {0.0, 2.0}
    expected = _steps_under_autograd(layer, x, mask)
    torch.testing.assert_close(out, expected)
    weights = (x, *layer.parameters())
    got = torch.autograd.grad((out * out.detach().cos()).sum(), weights)
    want = torch.autograd.grad((expected * expected.detach().cos()).sum(), weights)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("layer_type", LAYERS)
def test_layer_norm_layer_equals_layer_norm_cells(layer_type) -> None:
    torch.manual_seed(0)
    layer = layer_type(3, 4, layer_norm=True)
    cell_type = {rnn.LSTM: rnn.LSTMCell, rnn.GRU: rnn.GRUCell}.get(layer_type, rnn.SimpleRNNCell)
    cell = cell_type(3, 4, layer_norm=True)
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_()
        cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(5, 2, 3)
    state, outputs = None, []
    for t in range(5):
        state = cell(x[t], state)
        outputs.append(first_state(state))
    torch.testing.assert_close(layer(x)[0], torch.stack(outputs), atol=1e-5, rtol=1e-5)


def test_user_cell_runs_in_the_same_loop() -> None:
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    mine = rnn.LSTM(3, 4, num_layers=2, bidirectional=True, cell=lambda i, h: nn.LSTMCell(i, h))
    state = {}
    for index, suffix in enumerate(["_l0", "_l0_reverse", "_l1", "_l1_reverse"]):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            state[f"cells.{index}.{kind}"] = ref.state_dict()[kind + suffix]
    mine.load_state_dict(state)
    x = torch.randn(5, 2, 3)
    lengths = torch.tensor([5, 3])
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths)
    out_ref, (h_ref, c_ref) = ref(packed)
    out_ref, _ = nn.utils.rnn.pad_packed_sequence(out_ref)
    out, (h, c) = mine(x, lengths=lengths)
    assert mine.last_path == "loop"
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h, h_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(c, c_ref, atol=1e-5, rtol=1e-5)


def test_dropout_between_layers_only_in_training() -> None:
    torch.manual_seed(0)
    layer = rnn.GRU(3, 16, num_layers=2, dropout=0.5, implementation="loop")
    x = torch.randn(4, 2, 3)
    assert not torch.allclose(layer(x)[0], layer(x)[0])
    layer.eval()
    torch.testing.assert_close(layer(x)[0], layer(x)[0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m(torch.randn(2, 3, 4, 5)), r"input=\(2, 3, 4, 5\): expected a 2-D or 3-D"),
        (
            lambda m: m(torch.randn(5, 2, 4)),
            r"input=\(5, 2, 4\): expected last dimension input_size=3",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4))),
            r"hx=\(1, 2, 4\): expected shape \(2, 2, 4\)",
        ),
        (lambda m: m(torch.randn(5, 2, 3), torch.zeros(2, 2, 4)), "hx='Tensor': expected a tuple"),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5, 0])),
            r"lengths=\(5, 0\): expected every length in 1..5",
        ),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([6, 2])), r"lengths=\(6, 2\)"),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([-1, 2])), "lengths"),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5, 2, 1])), "expected 2 lengths"),
        (lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5.0, 2.0])), "1-D integer tensor"),
        (lambda m: m(torch.randn(5, 3), lengths=torch.tensor([5])), "unbatched"),
    ],
)
def test_bad_input_raises_a_named_value_error(call, match: str) -> None:
    layer = rnn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=match):
        call(layer)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: rnn.RNN(3, 4, nonlinearity="gelu"), "nonlinearity='gelu'"),
        (lambda: rnn.LSTM(3, 4, proj_size=4), "proj_size=4"),
        (lambda: rnn.GRU(3, 4, dropout=1.5), "dropout=1.5"),
        (lambda: rnn.GRU(3, 4, num_layers=0), "num_layers=0"),
        (lambda: rnn.LSTM(3, 4, recurrent_dropout=-0.1), "recurrent_dropout=-0.1"),
        (lambda: rnn.GRU(3, 4, implementation="cuda"), "implementation='cuda'"),
    ],
)
def test_bad_constructor_arguments(build, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        build()(torch.randn(2, 1, 3))


@pytest.mark.parametrize("layer_type", LAYERS)
def test_cpu_bf16_autocast_runs_the_fused_kernel_in_fp32(layer_type, monkeypatch) -> None:
    """torch.nn.LSTM fails under CPU bf16 autocast on some CPUs in torch 2.13; rnnkit's layers
    do not. With RNNKIT_BF16=0 the kernel computes in fp32; the result comes in the dtype
    torch.nn's has there (RNN, LSTM: bf16; GRU: its state's, fp32 here)."""
    monkeypatch.setenv("RNNKIT_BF16", "0")  # fp32 kernels (else measured: rnnkit.nn.precision)
    torch.manual_seed(0)
    layer = layer_type(3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 2, 3)
    expected, _ = layer(x)
    low = torch.float32 if layer_type is rnn.GRU else torch.bfloat16
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = layer(x.bfloat16(), lengths=torch.tensor([5, 3]))
        full, _ = layer(x)
    assert out.dtype == torch.bfloat16 and layer.last_path == "fused"
    assert full.dtype == low
    torch.testing.assert_close(full, expected.to(low))  # fp32 results, rounded to torch's dtype
    full.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


@pytest.mark.parametrize("bf16_products", ["0", "1"])
@pytest.mark.parametrize("layer_type", LAYERS)
def test_cpu_bf16_autocast_keeps_the_loop_state_in_fp32(
    layer_type, bf16_products, monkeypatch
) -> None:
    """Under autocast the hand-written recurrence keeps its state and gates in float32, forward
    and backward; its recurrent products run in bf16 only where rnnkit.nn.precision says so."""
    monkeypatch.setenv("RNNKIT_BF16", bf16_products)
    torch.manual_seed(0)
    layer = layer_type(3, 4, num_layers=2, bidirectional=True, implementation="loop")
    x = torch.randn(5, 2, 3)
    lengths = torch.tensor([5, 3])
    expected, _ = layer(x, lengths=lengths)
    expected_grads = torch.autograd.grad(expected.sum(), list(layer.parameters()))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = layer(x, lengths=lengths)
    assert out.dtype == (torch.float32 if layer_type is rnn.GRU else torch.bfloat16)  # torch's
    assert layer.last_path == "loop"
    torch.testing.assert_close(out.float(), expected, atol=2e-2, rtol=2e-2)  # bf16's precision
    grads = torch.autograd.grad(out.sum(), list(layer.parameters()))
    for got, want in zip(grads, expected_grads, strict=True):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, atol=8e-2, rtol=5e-2)


def test_bf16_recurrent_products_round_what_meets_w_hh(monkeypatch) -> None:
    """The input projection runs in bf16 under both settings, so a difference comes from
    the recurrent products: with RNNKIT_BF16=1 they really run in bf16."""
    torch.manual_seed(0)
    layer = rnn.LSTM(8, 16, implementation="loop")
    x = torch.randn(6, 3, 8)
    results = {}
    for setting in ("0", "1"):
        monkeypatch.setenv("RNNKIT_BF16", setting)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            results[setting] = layer(x)[0]
    difference = (results["1"] - results["0"]).abs().max().item()
    assert 0 < difference < 2e-2
