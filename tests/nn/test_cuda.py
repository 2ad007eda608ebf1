"""The layers on a CUDA GPU (skipped without one): cuDNN weight flattening and parity."""

from __future__ import annotations

import warnings

import pytest
import torch

import rnnkit.nn as rnn

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("proj_size", [0, 3])
def test_cuda_weights_share_one_cudnn_buffer_and_match_torch(kind: str, proj_size: int) -> None:
    if proj_size and kind != "LSTM":
        pytest.skip("proj_size is an LSTM option")
    extra = {"proj_size": proj_size} if proj_size else {}
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(8, 16, num_layers=2, bidirectional=True, **extra)
    mine = getattr(rnn, kind)(8, 16, num_layers=2, bidirectional=True, **extra)
    mine.load_state_dict(ref.state_dict())
    ref, mine = ref.cuda(), mine.cuda()
    assert len({w.untyped_storage().data_ptr() for w in mine.flat_weights}) == 1
    x = torch.randn(5, 3, 8, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cuDNN warns when it must compact scattered weights
        out, _ = mine(x)
    assert mine.last_path == "fused"
    torch.testing.assert_close(out, ref(x)[0])
    out.sum().backward()  # the flattened weights are still the parameters that get gradients
    assert all(w.grad is not None for w in mine.flat_weights)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_cuda_lengths_run_torchs_packed_cudnn_call(kind: str) -> None:
    """On a GPU lengths= and PackedSequence input take the call torch.nn makes (cuDNN's
    packed kernel): the same outputs, states and input gradient."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from rnnkit.nn import fused

    torch.manual_seed(1)
    ref = getattr(torch.nn, kind)(4, 8, num_layers=2, bidirectional=True).cuda()
    mine = getattr(rnn, kind)(4, 8, num_layers=2, bidirectional=True).cuda()
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(6, 3, 4, device="cuda", requires_grad=True)
    assert not fused.padded_lengths_serve(x)
    lengths = torch.tensor([6, 2, 4])
    ref_out, ref_h = ref(pack_padded_sequence(x, lengths, enforce_sorted=False))
    ref_padded = pad_packed_sequence(ref_out, total_length=6)[0]
    out, h = mine(x, lengths=lengths)
    torch.testing.assert_close(out, ref_padded)
    torch.testing.assert_close(h, ref_h)  # a tensor, or LSTM's (h, c) pair
    (g_ref,) = torch.autograd.grad(ref_padded.sum(), x)
    (g_mine,) = torch.autograd.grad(out.sum(), x)
    torch.testing.assert_close(g_mine, g_ref)
