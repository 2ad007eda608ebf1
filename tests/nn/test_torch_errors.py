"""The same bad (and borderline good) calls on torch.nn and rnnkit.nn: rnnkit refuses what torch
refuses, with an exception that is an instance of torch's type and a message that quotes torch's
own sentence (but for OWN_WORDS), and accepts what torch accepts.

Each row is one call; the expected behaviour is not written down but taken from torch.nn at test
time, so the table follows the installed torch. Deliberate differences
(docs/torch-differences.md) are the rows marked ``STRICTER``: rnnkit refuses at construction
what torch.nn accepts and only fails on later.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from torch import nn

import rnnkit.nn as rnn
from rnnkit.errors import InvalidArgumentError

LAYERS = [(nn.RNN, rnn.RNN), (nn.LSTM, rnn.LSTM), (nn.GRU, rnn.GRU)]
CELLS = [(nn.RNNCell, rnn.RNNCell), (nn.LSTMCell, rnn.LSTMCell), (nn.GRUCell, rnn.GRUCell)]
STRICTER = "stricter"
# torch.nn's sentences that come from deeper inside torch (torch.empty, range()) and would not
# help a reader: rnnkit words these errors its own way. Every other sentence is quoted.
OWN_WORDS = ("empty(): argument", "Trying to create tensor with negative dimension",
             "cannot be interpreted as an integer")  # fmt: skip

LAYER_ARGS = [  # (args, kwargs) of a constructor call
    ((3, 5), {}),
    ((10, 0), {}),
    ((10, 10, 0), {}),
    ((0, 5), {}),
    ((-1, 5), {}),
    ((3.0, 5), {}),
    (("10", 5), {}),
    ((3, 5.0), {}),
    ((3, 5, 2.0), {}),
    ((3, 5), {"bias": 0}),
    ((3, 5), {"bias": 1}),
    ((3, 5), {"bias": "True"}),
    ((3, 5), {"batch_first": 0}),
    ((3, 5), {"batch_first": "False"}),
    ((3, 5), {"dropout": 1.0}),
    ((3, 5, 2), {"dropout": 1.0}),
    ((3, 5), {"dropout": 1.5}),
    ((3, 5), {"dropout": -0.1}),
    ((3, 5), {"dropout": "0.5"}),
    ((3, 5), {"dropout": True}),
    ((3, 5), {"bidirectional": 1}),
    ((3, 5), {"proj_size": 0}),
    ((3, 5), {"proj_size": 2}),
    ((3, 5), {"proj_size": 5}),
    ((3, 5), {"proj_size": -1}),
    ((3, 5), {"proj_size": 2.0}),
    ((3, 5), {"nonlinearity": "relu"}),
    ((3, 5), {"nonlinearity": "gelu"}),
    ((True, 5), {}),
]

CELL_ARGS = [
    ((3, 5), {}),
    ((3, 0), {}),
    ((0, 5), {}),
    ((-1, 5), {}),
    ((3, -2), {}),
    ((3.0, 5), {}),
    (("3", 5), {}),
    ((3, 5), {"bias": False}),
    ((3, 5), {"bias": 0}),
    ((3, 5), {"bias": "x"}),
]


def _outcome(call):
    """('ok', value) or ('raised', exception)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return "ok", call(), [str(w.message) for w in caught]
        except Exception as error:  # the point of the test: any exception torch raises
            return "raised", error, []


def _compare(torch_call, mine_call):
    want, want_value, want_warnings = _outcome(torch_call)
    got, got_value, got_warnings = _outcome(mine_call)
    if want == "raised":
        assert got == "raised", f"torch raised {want_value!r}; rnnkit accepted"
        assert isinstance(got_value, type(want_value)), (
            f"torch raised {type(want_value).__name__}, rnnkit {type(got_value).__mro__}"
        )
        assert str(got_value), "rnnkit's message is empty"
        said = re.sub(r"^\w+: ", "", str(want_value))  # "GRU: Expected ..." -> "Expected ..."
        if not any(part in said for part in OWN_WORDS):
            assert said in str(got_value), f"torch's sentence {said!r} is not in {str(got_value)!r}"
    else:
        assert got == "ok", f"torch accepted; rnnkit raised {got_value!r}"
        assert bool(want_warnings) == bool(got_warnings), (want_warnings, got_warnings)
    return want, want_value, got_value


@pytest.mark.parametrize(("ref", "mine"), LAYERS, ids=["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize(("args", "kwargs"), LAYER_ARGS, ids=str)
def test_layer_constructor_accepts_and_refuses_as_torch(ref, mine, args, kwargs) -> None:
    if mine is not rnn.RNN and "nonlinearity" in kwargs:
        with pytest.raises(TypeError):  # torch's LSTM/GRU take no nonlinearity: same TypeError
            ref(*args, **kwargs)
        with pytest.raises(TypeError):
            mine(*args, **kwargs)
        return
    _compare(lambda: ref(*args, **kwargs), lambda: mine(*args, **kwargs))


@pytest.mark.parametrize(("ref", "mine"), CELLS, ids=["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize(("args", "kwargs"), CELL_ARGS, ids=str)
def test_cell_constructor_accepts_and_refuses_as_torch(ref, mine, args, kwargs) -> None:
    _compare(lambda: ref(*args, **kwargs), lambda: mine(*args, **kwargs))


def test_cell_with_an_unknown_nonlinearity_is_refused_at_construction() -> None:
    """STRICTER than torch.nn.RNNCell, which accepts 'gelu' and fails at the first forward."""
    nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="nonlinearity='gelu'"):
        rnn.RNNCell(3, 4, nonlinearity="gelu")


def _layer_forward_calls():
    """(name, constructor kwargs, forward args) with bad inputs or states."""
    f64 = torch.float64
    return [
        ("4-D input", {}, lambda h, c: (torch.randn(2, 3, 4, 3),)),
        ("1-D input", {}, lambda h, c: (torch.randn(3),)),
        ("input size", {}, lambda h, c: (torch.randn(5, 2, 4),)),
        ("unbatched input size", {}, lambda h, c: (torch.randn(5, 4),)),
        ("dtype", {}, lambda h, c: (torch.randn(5, 2, 3, dtype=f64),)),
        ("hx batch", {}, lambda h, c: (torch.randn(5, 2, 3), _state(h, c, 2, 3))),
        ("hx layers", {}, lambda h, c: (torch.randn(5, 2, 3), _state(h, c, 1, 2))),
        ("hx size", {}, lambda h, c: (torch.randn(5, 2, 3), _state(h + 1, c, 2, 2))),
        ("hx 2-D for 3-D input", {}, lambda h, c: (torch.randn(5, 2, 3), _state(h, c, 2))),
        ("hx 3-D for 2-D input", {}, lambda h, c: (torch.randn(5, 3), _state(h, c, 2, 1))),
        ("batch_first batch", {"batch_first": True},
         lambda h, c: (torch.randn(2, 5, 3), _state(h, c, 2, 5))),
        ("good", {}, lambda h, c: (torch.randn(5, 2, 3), _state(h, c, 2, 2))),
        ("good unbatched", {}, lambda h, c: (torch.randn(5, 3), _state(h, c, 2))),
    ]  # fmt: skip


def _state(h: int, c: int | None, *lead: int):
    hx = torch.zeros(*lead, h)
    return hx if c is None else (hx, torch.zeros(*lead, c))


@pytest.mark.parametrize(("ref", "mine"), LAYERS, ids=["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("implementation", ["auto", "loop"])
@pytest.mark.parametrize(
    ("name", "kwargs", "inputs"), _layer_forward_calls(), ids=[c[0] for c in _layer_forward_calls()]
)
def test_layer_forward_errors_have_torch_types(ref, mine, implementation, name, kwargs, inputs):
    torch.manual_seed(0)
    a, b = ref(3, 4, 2, **kwargs), mine(3, 4, 2, implementation=implementation, **kwargs)
    b.load_state_dict(a.state_dict())
    c = 4 if ref is nn.LSTM else None
    args = inputs(4, c)
    outcome, want, got = _compare(lambda: a(*args), lambda: b(*args))
    if outcome == "raised":
        assert isinstance(got, InvalidArgumentError)  # rnnkit's own, with its message
    else:
        torch.testing.assert_close(got, want)


CELL_FORWARD = [  # (name, input, state) for cells of input_size 10, hidden_size 20
    ("input size", (3, 11), (3, 20)),
    ("hidden size", (3, 10), (3, 21)),
    ("batch", (3, 10), (5, 20)),
    ("4-D hidden", (3, 10), (3, 1, 1, 20)),
    ("3-D input", (3, 1, 10), (3, 20)),
    ("unbatched input, batched hidden", (10,), (3, 20)),
    ("good", (3, 10), (3, 20)),
    ("good unbatched", (10,), (20,)),
]


@pytest.mark.parametrize(("ref", "mine"), CELLS, ids=["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize(("name", "x", "h"), CELL_FORWARD, ids=[c[0] for c in CELL_FORWARD])
def test_cell_forward_errors_have_torch_types(ref, mine, name, x, h) -> None:
    torch.manual_seed(0)
    a, b = ref(10, 20), mine(10, 20)
    b.load_state_dict(a.state_dict())
    state = torch.randn(h)
    args = (torch.randn(x), (state, state) if ref is nn.LSTMCell else state)
    outcome, want, got = _compare(lambda: a(*args), lambda: b(*args))
    if outcome == "ok":
        torch.testing.assert_close(got, want)
