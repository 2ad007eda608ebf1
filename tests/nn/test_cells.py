"""Cells against torch.nn's cells: same init, state_dict both ways, outputs, grads, gradcheck."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit.nn as rnn
from rnnkit.errors import InvalidArgumentError
from rnnkit.nn import GRUCell, LSTMCell, SimpleRNNCell

PAIRS = [
    (lambda: SimpleRNNCell(5, 7), lambda: nn.RNNCell(5, 7)),
    (
        lambda: SimpleRNNCell(5, 7, nonlinearity="relu"),
        lambda: nn.RNNCell(5, 7, nonlinearity="relu"),
    ),
    (lambda: SimpleRNNCell(5, 7, bias=False), lambda: nn.RNNCell(5, 7, bias=False)),
    (lambda: LSTMCell(5, 7), lambda: nn.LSTMCell(5, 7)),
    (lambda: GRUCell(5, 7), lambda: nn.GRUCell(5, 7)),
    (lambda: GRUCell(5, 7, bias=False), lambda: nn.GRUCell(5, 7, bias=False)),
]


def _state(batch: int, ref: nn.Module) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    h = torch.randn(batch, 7)
    return (h, torch.randn(batch, 7)) if isinstance(ref, nn.LSTMCell) else h


def _flat(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.cat(out, -1) if isinstance(out, tuple) else out


@pytest.mark.parametrize(("make_mine", "make_ref"), PAIRS)
def test_same_repr_as_torch(make_mine, make_ref) -> None:
    assert repr(make_mine()) == repr(make_ref())


def test_simple_rnn_cell_is_keras_name_for_rnn_cell() -> None:
    assert rnn.SimpleRNNCell is rnn.RNNCell
    assert repr(rnn.RNNCell(2, 3, nonlinearity="relu", layer_norm=True)) == (
        "RNNCell(2, 3, layer_norm=True, nonlinearity=relu)"
    )


@pytest.mark.parametrize(("make_mine", "make_ref"), PAIRS)
def test_same_initialisation_and_state_dict_keys(make_mine, make_ref) -> None:
    torch.manual_seed(3)
    mine = make_mine()
    torch.manual_seed(3)
    ref = make_ref()
    assert list(mine.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():
        assert torch.equal(mine.state_dict()[key], value), key


@pytest.mark.parametrize(("make_mine", "make_ref"), PAIRS)
def test_outputs_and_gradients_match_torch(make_mine, make_ref) -> None:
    torch.manual_seed(0)
    ref = make_ref()
    mine = make_mine()
    mine.load_state_dict(ref.state_dict())  # torch -> rnnkit
    ref.load_state_dict(mine.state_dict())  # and back
    x = torch.randn(4, 5)
    hx = _state(4, ref)
    out_mine, out_ref = _flat(mine(x, hx)), _flat(ref(x, hx))
    torch.testing.assert_close(out_mine, out_ref, atol=1e-6, rtol=1e-5)
    weights = torch.randn_like(out_ref)
    (out_mine * weights).sum().backward()
    (out_ref * weights).sum().backward()
    for (name, p_mine), p_ref in zip(mine.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p_mine.grad, p_ref.grad, atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize(("make_mine", "make_ref"), PAIRS)
def test_unbatched_and_default_state(make_mine, make_ref) -> None:
    ref = make_ref()
    mine = make_mine()
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(5)
    torch.testing.assert_close(_flat(mine(x)), _flat(ref(x)))


@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("cell_type", [SimpleRNNCell, LSTMCell, GRUCell])
def test_gradcheck_float64(cell_type, layer_norm: bool) -> None:
    torch.manual_seed(0)
    cell = cell_type(3, 4, layer_norm=layer_norm).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    if cell_type is LSTMCell:
        c = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    else:
        assert torch.autograd.gradcheck(lambda x, h: cell(x, h), (x, h))


def test_layer_norm_normalises_the_cell_state_path() -> None:
    """With unit LN gains, a huge cell state still yields |h| < 1 and the gates see LN inputs."""
    torch.manual_seed(0)
    cell = LSTMCell(3, 4, layer_norm=True)
    h, c = cell(torch.randn(2, 3) * 100, (torch.zeros(2, 4), torch.full((2, 4), 50.0)))
    assert h.abs().max() < 1
    assert c.abs().max() > 10  # the raw cell state stays large; only its read-out is normalised
    assert {n for n, _ in cell.named_parameters()} >= {"ln_ih_weight", "ln_hh_bias", "ln_c_weight"}


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: SimpleRNNCell(3, 4, nonlinearity="sigmoid"), "nonlinearity='sigmoid'"),
        (lambda: LSTMCell(-1, 4), "input_size=-1"),  # 0 is accepted, as by torch.nn
        (lambda: LSTMCell(2.5, 4), "input_size=2.5"),
        (lambda: GRUCell(3, -1), "hidden_size=-1"),
    ],
)
def test_bad_constructor_arguments(build, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        build()


def test_bad_cell_inputs_name_the_argument() -> None:
    cell = LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"input=\(2, 5\): expected last dimension input_size=3"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"hx\[1\]=\(3, 4\)"):
        cell(torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(3, 4)))
    with pytest.raises(ValueError, match=r"hx=\(4,\)"):
        GRUCell(3, 4)(torch.randn(2, 3), torch.zeros(4))


@pytest.mark.parametrize(
    "module_type", [SimpleRNNCell, LSTMCell, GRUCell, rnn.RNN, rnn.LSTM, rnn.GRU]
)
def test_reset_parameters_sets_layer_norm_to_identity(module_type) -> None:
    """reset_parameters redraws the weights and sets layer-norm gains to 1 and biases to 0
    (ln_ih_weight, ln_c_bias, ln_hh_weight_l0...), in the cells as in the layers."""
    torch.manual_seed(0)
    module = module_type(3, 4, layer_norm=True)
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(7.0)
    module.reset_parameters()
    for name, p in module.named_parameters():
        if name.startswith("ln_"):
            gain = name.split("_")[2] == "weight"
            assert torch.equal(p, torch.full_like(p, 1.0 if gain else 0.0))
        else:
            assert p.abs().max() <= 0.5  # U(-1/sqrt(4), 1/sqrt(4))
