"""Reused scratch buffers (rnnkit.nn.workspace): handed out again only when nothing holds them."""

from __future__ import annotations

import threading

import torch
from torch.testing import assert_close

import rnnkit.nn as rnn
from rnnkit.nn import workspace


def test_torchs_reference_counts_say_what_reuse_relies_on() -> None:
    """If a torch release counts references otherwise, this fails before memory still in use
    could be handed out again."""
    t = torch.empty(4, 3)
    assert workspace.free(t)
    view = t[1:]
    assert not workspace.free(t)
    del view
    alias = t.detach()  # another tensor on the same memory, not a view of t
    assert not workspace.free(t)
    del alias
    assert workspace.free(t)
    weight = torch.ones(3, requires_grad=True)
    product = t * weight  # saves t for weight's gradient
    assert not workspace.free(t)
    graph = product.sum()
    del product
    assert not workspace.free(t)  # saved in graph
    graph.backward(retain_graph=True)
    assert not workspace.free(t)
    graph.backward()  # frees what the graph saved
    assert workspace.free(t)
    same = t
    assert not workspace.free(t)  # another Python name for the same tensor
    del same
    assert workspace.free(t)


def test_a_free_buffer_comes_back_and_a_held_one_does_not() -> None:
    first = workspace.buffer("test-role", (3, 5), torch.float32)
    pointer = first.data_ptr()
    del first
    again = workspace.buffer("test-role", (3, 5), torch.float32)
    assert again.data_ptr() == pointer
    other = workspace.buffer("test-role", (3, 5), torch.float32)  # `again` still held
    assert other.data_ptr() != again.data_ptr()
    assert workspace.buffer("test-role", (3, 6), torch.float32).shape == (3, 6)
    assert workspace.buffer("test-role", (3, 6), torch.float64).dtype == torch.float64


def test_buffers_over_the_limit_are_not_kept(monkeypatch) -> None:
    monkeypatch.setattr(workspace, "MAX_BYTES", 64)
    workspace.buffer("test-big", (4, 4), torch.float32)  # 64 bytes: kept
    assert ("test-big", False) in workspace._kept.buffers
    workspace.buffer("test-big", (4, 5), torch.float32)  # 80 bytes: not
    assert ("test-big", False) not in workspace._kept.buffers


def test_each_thread_has_its_own_buffers() -> None:
    mine = workspace.buffer("test-thread", (2, 2), torch.float32)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(workspace.buffer("test-thread", (2, 2), torch.float32)))
    thread.start()
    thread.join()
    assert seen[0].data_ptr() != mine.data_ptr()


def two_layer_rnn() -> tuple[rnn.RNN, torch.nn.RNN]:
    torch.manual_seed(0)
    ref = torch.nn.RNN(8, 16, num_layers=2)
    mine = rnn.RNN(8, 16, num_layers=2)
    mine.load_state_dict(ref.state_dict())
    return mine, ref


def test_graphs_alive_together_keep_their_own_rows() -> None:
    """Two forwards before either backward: the first graph's saved rows must survive the
    second forward (the wavefront takes a new buffer while the first is saved)."""
    mine, ref = two_layer_rnn()
    xs = [torch.randn(6, 64, 8, requires_grad=True) for _ in range(2)]
    outs = [mine(x)[0] for x in xs]
    expected = [ref(x)[0] for x in xs]
    for out, exp in zip(outs, expected, strict=True):
        assert_close(out, exp, rtol=1e-5, atol=1e-6)
    for x, out in zip(reversed(xs), reversed(outs), strict=True):
        (grad,) = torch.autograd.grad(out.square().sum(), x)
        (want,) = torch.autograd.grad(ref(x)[0].square().sum(), x)
        assert_close(grad, want, rtol=1e-5, atol=1e-5)


def test_backward_twice_with_retain_graph() -> None:
    mine, ref = two_layer_rnn()
    x = torch.randn(6, 64, 8, requires_grad=True)
    loss = mine(x)[0].square().sum()
    first = torch.autograd.grad(loss, x, retain_graph=True)[0]
    second = torch.autograd.grad(loss, x)[0]
    assert torch.equal(first, second)
    assert_close(first, torch.autograd.grad(ref(x)[0].square().sum(), x)[0], rtol=1e-5, atol=1e-5)


def test_an_output_that_shares_the_rows_is_not_overwritten() -> None:
    """One layer without padding returns its rows' memory as the output: the next call must not
    write over an output the caller still holds."""
    torch.manual_seed(0)
    layer = rnn.RNN(8, 16)
    with torch.no_grad():
        x1, x2 = torch.randn(6, 64, 8), torch.randn(6, 64, 8)
        first = layer(x1)[0]
        kept = first.clone()
        layer(x2)
    assert torch.equal(first, kept)


def test_inference_mode_keeps_its_own_buffers() -> None:
    """A buffer made under inference_mode is an inference tensor: a training forward after a
    prediction must not be handed it (it could be neither written nor saved)."""
    mine, ref = two_layer_rnn()
    x = torch.randn(5, 3, 8)
    with torch.inference_mode():
        predicted = mine(x)[0]
    x.requires_grad_()
    out = mine(x)[0]
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert_close(out, ref(x)[0], rtol=1e-5, atol=1e-6)
    assert_close(predicted, out.detach(), rtol=0, atol=0)
    with torch.inference_mode():
        assert torch.equal(mine(x.detach())[0], predicted)
    assert torch.equal(torch.autograd.grad(mine(x)[0].sum(), x)[0], grad)


def test_buffers_are_on_the_cpu_whatever_the_default_device() -> None:
    with torch.device("meta"):
        assert workspace.buffer("test-device", (2, 3), torch.float32).device.type == "cpu"
