"""Encoder-decoder: attention equations and masking, padding invariance, step == sequence."""

from __future__ import annotations

import pytest
import torch

from rnnkit.errors import InvalidArgumentError
from rnnkit.models.seq2seq import Attention, Bridge, Seq2Seq, Seq2SeqConfig

KINDS = ("additive", "dot", "general")


def tiny(attention: str = "general", **options: object) -> Seq2Seq:
    torch.manual_seed(0)
    sizes = {"embedding_size": 8, "encoder_hidden_size": 6, "hidden_size": 12, "attention_size": 5}
    config = Seq2SeqConfig(source_vocab_size=20, target_vocab_size=15, attention=attention,
                           dropout=0.0, **(sizes | options))  # fmt: skip
    return Seq2Seq(config).eval()


def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    lengths = torch.tensor([5, 2, 4])
    src = torch.randint(2, 20, (3, 5), generator=g)
    src[torch.arange(5)[None, :] >= lengths[:, None]] = 0  # padding
    tgt = torch.randint(2, 15, (3, 4), generator=g)
    return src, lengths, tgt


@pytest.mark.parametrize("kind", KINDS)
def test_attention_rows_sum_to_one_and_padding_gets_exactly_zero(kind: str) -> None:
    src, lengths, tgt = batch()
    _, weights = tiny(kind)(src, lengths, tgt)  # (B, T, S)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4))
    for b, n in enumerate(lengths.tolist()):
        assert (weights[b, :, n:] == 0).all()  # exactly zero, not merely small
        assert (weights[b, :, :n] > 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_scores_follow_the_equations(kind: str) -> None:
    torch.manual_seed(0)
    attention = Attention(kind, query_size=4, memory_size=4, attention_size=3)
    query, memory = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    context, weights = attention(query, attention.keys(memory), memory, mask)
    for b in range(2):
        n = int(mask[b].sum())
        for t in range(3):
            s = query[b, t]
            if kind == "dot":
                scores = torch.stack([s @ memory[b, j] for j in range(n)])
            elif kind == "general":
                scores = torch.stack([s @ (attention.key.weight @ memory[b, j]) for j in range(n)])
            else:
                scores = torch.stack([
                    attention.v.weight[0] @ torch.tanh(attention.query.weight @ s
                                                       + attention.key(memory[b, j]))
                    for j in range(n)
                ])  # fmt: skip
            alpha = scores.softmax(0)
            assert torch.allclose(weights[b, t, :n], alpha, atol=1e-6)
            assert torch.allclose(context[b, t], alpha @ memory[b, :n], atol=1e-6)


@pytest.mark.parametrize(
    ("kind", "options"),
    [("none", {}), ("additive", {}), ("general", {"input_feeding": True}),
     ("dot", {"cell": "lstm", "num_layers": 2}), ("general", {"bidirectional": False})],
)  # fmt: skip
def test_a_sentence_gives_the_same_logits_alone_and_in_a_padded_batch(kind: str, options: dict) -> None:
    model = tiny(kind, **options)
    src, lengths, tgt = batch()
    together, _ = model(src, lengths, tgt)
    for b, n in enumerate(lengths.tolist()):
        alone, _ = model(src[b : b + 1, :n], lengths[b : b + 1], tgt[b : b + 1])
        assert torch.allclose(alone[0], together[b], atol=1e-5)


@pytest.mark.parametrize("kind", ["none", "additive", "general"])
def test_stepwise_decoding_equals_the_teacher_forced_pass(kind: str) -> None:
    model = tiny(kind)
    src, lengths, tgt = batch()
    expected, _ = model(src, lengths, tgt)
    memory, keys, mask, state = model.encode(src, lengths)
    feed = None
    for t in range(tgt.shape[1]):
        logits, state, feed, _ = model.step(tgt[:, t], memory, keys, mask, state, feed)
        assert torch.allclose(logits, expected[:, t], atol=1e-5)


def test_scheduled_sampling_with_zero_probability_is_teacher_forcing() -> None:
    model = tiny("general", input_feeding=True)
    src, lengths, tgt = batch()
    a, _ = model(src, lengths, tgt)
    b, _ = model(src, lengths, tgt, sample_prob=1e-9)
    assert torch.allclose(a, b, atol=1e-6)
    c, _ = model(src, lengths, tgt, sample_prob=0.99)
    assert not torch.allclose(a[:, 1:], c[:, 1:])  # inputs from the model's own argmax


def test_bridge_passes_a_matching_state_and_projects_a_bidirectional_one() -> None:
    same = Seq2SeqConfig(encoder_hidden_size=7, hidden_size=7, bidirectional=False, num_layers=2)
    h = torch.randn(2, 3, 7)
    assert torch.equal(Bridge(same)(h), h)
    both = Bridge(Seq2SeqConfig(encoder_hidden_size=4, hidden_size=6, num_layers=2, cell="lstm"))
    hn, cn = both((torch.randn(4, 3, 4), torch.randn(4, 3, 4)))
    assert hn.shape == cn.shape == (2, 3, 6)
    assert len(both.projections) == 2


def test_tied_output_shares_the_target_embedding() -> None:
    model = tiny("general", embedding_size=12, tie_embeddings=True)
    assert model.output.weight is model.target_embedding.weight


@pytest.mark.parametrize(
    ("options", "named"),
    [({"attention": "luong"}, "attention="), ({"attention": "dot", "hidden_size": 100}, "attention="),
     ({"tie_embeddings": True, "embedding_size": 3}, "tie_embeddings="), ({"cell": "tcn"}, "cell="),
     ({"dropout": 1.0}, "dropout="), ({"hidden_size": 0}, "hidden_size=")],
)  # fmt: skip
def test_bad_configs_name_the_field(options: dict, named: str) -> None:
    with pytest.raises(InvalidArgumentError, match=named):
        Seq2SeqConfig(**options)


@pytest.mark.parametrize(
    ("options", "sample_prob"),
    [({}, 0.0), ({"input_feeding": True}, 0.0), ({"input_feeding": True}, 0.5),
     ({"tie_embeddings": True, "embedding_size": 12}, 0.0)],
    ids=["all steps at once", "a step loop", "scheduled sampling", "tied output"],
)
def test_forward_with_targets_is_the_cross_entropy_of_its_logits(
    options, sample_prob, monkeypatch
) -> None:
    """The loss through forward (fused where the decoder runs all steps at once) equals
    cross_entropy of the logits, <pad> ignored and label smoothing as torch's; every gradient."""
    import torch.nn.functional as F

    from rnnkit.models import seq2seq

    fused = []
    original = seq2seq.linear_cross_entropy
    monkeypatch.setattr(seq2seq, "linear_cross_entropy", lambda *a, **k: fused.append(1) or original(*a, **k))
    model = tiny("general", **options)
    src, lengths, tgt = batch()
    targets = tgt.clone()
    targets[1, 2:] = 0  # <pad> after a short target
    torch.manual_seed(5)  # the same scheduled-sampling draws in both calls
    loss, _ = model(src, lengths, tgt, sample_prob, targets=targets, label_smoothing=0.1)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params)
    torch.manual_seed(5)
    logits, _ = model(src, lengths, tgt, sample_prob)
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=0,
                               label_smoothing=0.1)  # fmt: skip
    assert loss.dtype == torch.float32 and loss.shape == ()
    assert fused == ([] if sample_prob else [1])  # unless each step's logits are needed
    torch.testing.assert_close(loss, expected)
    for a, b in zip(grads, torch.autograd.grad(expected, params), strict=True):
        torch.testing.assert_close(a, b)


def test_targets_of_another_shape_than_tgt_in_are_refused_by_name() -> None:
    from rnnkit.errors import ShapeMismatchError

    src, lengths, tgt = batch()
    with pytest.raises(ShapeMismatchError, match=r"targets=\(3, 3\): expected tgt_in's shape"):
        tiny()(src, lengths, tgt, targets=tgt[:, 1:])
