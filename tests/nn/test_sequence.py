"""Variable-length helpers: reversal within lengths and its gradient."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.nn.sequence import reverse_padded


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
