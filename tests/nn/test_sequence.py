"""Variable-length helpers: reversal within lengths, padding rows and last steps, gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.nn.fused_lengths import _MaskAndLast
from rnnkit.nn.sequence import last_rows, padding_rows, reverse_padded, zero_rows


def reference_reverse(x: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    out = x.clone()
    for b, n in enumerate(lengths):
        out[:n, b] = x[:n, b].flip(0)
    return out


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.integers(1, 3))
def test_reverse_padded_reverses_each_sequence_and_is_its_own_inverse(lengths, features) -> None:
    x = torch.randn(max(lengths) + 1, len(lengths), features)
    lens = torch.tensor(lengths)
    assert torch.equal(reverse_padded(x, lens), reference_reverse(x, lengths))
    assert torch.equal(reverse_padded(reverse_padded(x, lens), lens), x)


def test_reverse_padded_gradients_first_and_second_order() -> None:
    lengths = torch.tensor([4, 2, 3])
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: reverse_padded(t, lengths), (x,))
    assert torch.autograd.gradgradcheck(lambda t: reverse_padded(t, lengths) ** 2, (x,))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.integers(0, 2))
def test_padding_rows_zero_rows_and_last_rows_against_a_loop(lengths, extra) -> None:
    time = max(lengths) + extra
    x, expected = torch.randn(time, len(lengths), 3), torch.zeros(time, len(lengths), 3)
    for b, n in enumerate(lengths):
        x[n:, b] = float("nan")  # padding may hold anything
        expected[:n, b] = x[:n, b]
    lens = torch.tensor(lengths)
    zeroed = zero_rows(x, padding_rows(lens, time))
    assert torch.equal(zeroed, expected)
    assert not torch.signbit(zeroed[zeroed == 0]).any()  # +0.0, as torch.nn's padding value
    rows = x.reshape(-1, 3)[last_rows(lens)]
    assert torch.equal(rows, torch.stack([x[n - 1, b] for b, n in enumerate(lengths)]))


@pytest.mark.parametrize("masked", [True, False])
def test_mask_and_last_gradients_first_and_second_order(masked: bool) -> None:
    lengths = torch.tensor([4, 2, 3])
    padding, last = padding_rows(lengths, 4), last_rows(lengths)
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)

    def both(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _MaskAndLast.apply(t, padding if masked else None, last)

    out, h = both(x)
    assert torch.equal(out, zero_rows(x, padding) if masked else x)
    assert torch.equal(h, x[lengths - 1, [0, 1, 2]])
    assert torch.autograd.gradcheck(both, (x,))
    assert torch.autograd.gradgradcheck(lambda t: tuple(v**2 for v in both(t)), (x,))
    (h_only,) = torch.autograd.grad(both(x)[1].sum(), x)  # the output's gradient unused
    assert h_only.sum() == h.numel() and h_only[lengths - 1, [0, 1, 2]].eq(1).all()
    (out_only,) = torch.autograd.grad(both(x)[0].sum(), x)  # h_n's gradient unused
    assert torch.equal(out_only, zero_rows(torch.ones_like(x), padding) if masked else torch.ones_like(x))
