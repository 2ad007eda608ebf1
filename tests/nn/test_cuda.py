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
