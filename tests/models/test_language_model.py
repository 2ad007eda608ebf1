"""LanguageModel: shapes, one-hot input, tied weights, config checks."""

from __future__ import annotations

import pytest
import torch

from rnnkit.errors import InvalidArgumentError
from rnnkit.models.language_model import (
    LanguageModel,
    LanguageModelConfig,
    detach_state,
    move_state,
)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("embedding_size", [0, 8])
def test_shapes_and_state_carry(cell: str, embedding_size: int) -> None:
    torch.manual_seed(0)
    model = LanguageModel(
        LanguageModelConfig(
            vocab_size=11,
            cell=cell,
            hidden_size=16,
            embedding_size=embedding_size,
            num_layers=2,
            dropout=0.0,
        )
    )
    ids = torch.randint(0, 11, (3, 7))
    logits, state = model(ids)
    assert logits.shape == (3, 7, 11)
    h = state[0] if isinstance(state, tuple) else state
    assert h.shape == (2, 3, 16)  # (layers, batch, hidden)
    # Running the two halves with the carried state equals one pass over the whole window.
    first, mid = model(ids[:, :4])
    second, _ = model(ids[:, 4:], detach_state(mid))
    torch.testing.assert_close(torch.cat([first, second], 1), logits, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_bf16_carried_state_goes_on_in_fp32(cell: str) -> None:
    """A state from a bf16 step, or from a run saved under another --precision, feeds fp32."""
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(vocab_size=11, cell=cell, hidden_size=16))
    ids = torch.randint(0, 11, (2, 5))
    _, state = model(ids)
    half = tuple(s.bfloat16() for s in state) if cell == "lstm" else state.bfloat16()
    moved = move_state(half, torch.device("cpu"))
    parts = moved if isinstance(moved, tuple) else (moved,)
    assert all(p.dtype == torch.float32 for p in parts)
    logits, _ = model(ids, moved)  # the fused kernel takes it (a bf16 state would fail there)
    assert logits.dtype == torch.float32


@pytest.mark.parametrize("tie", [False, True])
def test_embedding_and_output_start_small_and_tied_stays_tied(tie: bool) -> None:
    torch.manual_seed(0)
    model = LanguageModel(
        LanguageModelConfig(vocab_size=500, hidden_size=32, embedding_size=32, tie_weights=tie)
    )
    for weight in (model.embedding.weight, model.decoder.weight):
        assert weight.abs().max() <= 0.1 and weight.std() > 0.05  # U(-0.1, 0.1), std 0.0577
    assert not model.decoder.bias.any()
    assert (model.decoder.weight is model.embedding.weight) == tie
    # The recurrent layer keeps torch.nn's U(-1/sqrt(H), 1/sqrt(H)).
    assert 0.15 < model.rnn.weight_hh_l0.abs().max() <= 32**-0.5


def test_one_hot_input_equals_an_identity_embedding() -> None:
    torch.manual_seed(0)
    one_hot = LanguageModel(
        LanguageModelConfig(vocab_size=5, hidden_size=6, embedding_size=0, dropout=0.0)
    )
    embedded = LanguageModel(
        LanguageModelConfig(vocab_size=5, hidden_size=6, embedding_size=5, dropout=0.0)
    )
    state = dict(one_hot.state_dict()) | {"embedding.weight": torch.eye(5)}
    embedded.load_state_dict(state)
    ids = torch.randint(0, 5, (2, 4))
    torch.testing.assert_close(one_hot(ids)[0], embedded(ids)[0])


def test_tied_weights_share_one_tensor() -> None:
    model = LanguageModel(
        LanguageModelConfig(vocab_size=9, hidden_size=8, embedding_size=8, tie_weights=True)
    )
    assert model.decoder.weight is model.embedding.weight
    untied = LanguageModel(LanguageModelConfig(vocab_size=9, hidden_size=8, embedding_size=8))
    assert model.num_parameters() == untied.num_parameters() - 9 * 8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "transformer"}, "cell='transformer'"),
        ({"tie_weights": True, "embedding_size": 4}, "tie_weights"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"hidden_size": 0}, "hidden_size=0"),
    ],
)
def test_bad_config(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        LanguageModelConfig(vocab_size=10, **kwargs)
