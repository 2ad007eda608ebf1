"""TextClassifier: padding invariance, each pooling against a direct computation, pretrained init."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.batching import collate
from rnnkit.embeddings import build_embedding_matrix, load_vectors
from rnnkit.errors import InvalidArgumentError
from rnnkit.models.classifier import POOLINGS, ClassifierConfig, TextClassifier

V, E, H = 30, 6, 5
TEXTS = [[5, 3, 9, 2], [7], [4, 4, 8, 12, 3, 6, 2], [11, 2]]  # ids, lengths 4, 1, 7, 2


def model(seed: int = 0, **options) -> TextClassifier:
    torch.manual_seed(seed)
    config = ClassifierConfig(vocab_size=V, embedding_size=E, hidden_size=H, **options)
    return TextClassifier(config).eval()


def logits(clf: TextClassifier, texts: list[list[int]], extra_padding: int = 0) -> torch.Tensor:
    tokens, lengths = collate(texts)
    tokens = F.pad(tokens, (0, extra_padding))  # (B, T + extra), more padding columns
    with torch.no_grad():
        return clf(tokens, lengths)


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize(
    ("cell", "bidirectional", "layers"), [("lstm", True, 2), ("gru", False, 1), ("rnn", True, 1)]
)
def test_padding_and_batch_company_never_change_a_prediction(
    pooling: str, cell: str, bidirectional: bool, layers: int
) -> None:
    clf = model(pooling=pooling, cell=cell, bidirectional=bidirectional, num_layers=layers,
                num_classes=3)  # fmt: skip
    together = logits(clf, TEXTS)  # (4, 3)
    padded = logits(clf, TEXTS, extra_padding=9)
    alone = torch.cat([logits(clf, [text]) for text in TEXTS])  # no padding at all
    reordered = logits(clf, TEXTS[::-1]).flip(0)
    for other in (padded, alone, reordered):
        torch.testing.assert_close(other, together, rtol=0, atol=1e-6)


def pooled(clf: TextClassifier, texts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(pooled (B, dirs*H), outputs (B, T, dirs*H)) for texts, computed by the model's parts."""
    tokens, lengths = collate(texts)
    with torch.no_grad():
        output, _ = clf.rnn(clf.embedding(tokens), lengths=lengths)  # zero at padded steps
        return clf.pool(output, lengths), output


def test_last_pooling_joins_forward_last_step_and_reverse_first_step() -> None:
    clf = model(pooling="last", bidirectional=True, num_layers=2)
    result, output = pooled(clf, TEXTS)
    for b, text in enumerate(TEXTS):
        forward = output[b, len(text) - 1, :H]  # forward direction after the whole text
        backward = output[b, 0, H:]  # reverse direction after reading back to the first word
        torch.testing.assert_close(result[b], torch.cat([forward, backward]))


def test_a_forward_only_stack_equals_the_packed_computation_with_lengths() -> None:
    clf = model(pooling="last", num_layers=2, ngrams=0)  # runs its padded batch without lengths
    tokens, lengths = collate(TEXTS)
    with torch.no_grad():
        _, (h_n, _) = clf.rnn(clf.embedding(tokens), lengths=lengths)  # packed: exact h_n
        torch.testing.assert_close(clf(tokens, lengths), clf.head(h_n[-1]))


def max_then_mean(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x.amax(0), x.mean(0)])


def test_mean_and_max_pooling_use_real_steps_only() -> None:
    reductions = [("mean", lambda x: x.mean(0)), ("max", lambda x: x.amax(0))]
    for pooling, reduce in [*reductions, ("max_mean", max_then_mean)]:
        clf = model(pooling=pooling, bidirectional=True)
        result, output = pooled(clf, TEXTS)
        for b, text in enumerate(TEXTS):
            torch.testing.assert_close(result[b], reduce(output[b, : len(text)]))


@pytest.mark.parametrize("pooling", POOLINGS)
def test_inference_logits_equal_the_logits_with_gradients(pooling: str) -> None:
    """Without gradients the forward overwrites the RNN's outputs (max pooling masks them in
    place); the logits must be those of the recorded forward."""
    clf = model(pooling=pooling)
    tokens, lengths = collate(TEXTS)
    with_grad = clf(tokens, lengths)
    assert with_grad.requires_grad
    torch.testing.assert_close(logits(clf, TEXTS), with_grad.detach(), atol=0, rtol=0)


def test_pool_leaves_its_input_alone_unless_told_to_overwrite() -> None:
    clf = model(pooling="max")
    _, output = pooled(clf, TEXTS)
    before = output.clone()
    lengths = torch.tensor([len(t) for t in TEXTS])
    kept = clf.pool(output, lengths)
    assert torch.equal(output, before)
    torch.testing.assert_close(clf.pool(output, lengths, overwrite=True), kept, atol=0, rtol=0)
    assert torch.isinf(output).any()  # the padded steps now hold -inf


def test_attention_weights_sum_to_one_over_real_steps() -> None:
    clf = model(pooling="attention")
    result, output = pooled(clf, TEXTS)
    for b, text in enumerate(TEXTS):
        steps = output[b, : len(text)]  # (t, H)
        weights = clf.attention(steps).squeeze(-1).softmax(0)  # (t,)
        torch.testing.assert_close(result[b], weights @ steps)
    single, output = pooled(clf, [[7]])
    torch.testing.assert_close(single[0], output[0, 0])  # one step: all the weight on it


def test_binary_uses_one_sigmoid_logit_and_a_softmax_equivalent_loss() -> None:
    clf = model()  # two classes
    z = logits(clf, TEXTS)
    assert z.shape == (4, 1)
    probs = clf.probabilities(z)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4))
    torch.testing.assert_close(probs[:, 1], torch.sigmoid(z[:, 0]))
    targets, weights = torch.tensor([0, 1, 1, 0]), torch.tensor([0.5, 2.0])
    two_way = torch.cat([torch.zeros_like(z), z], dim=-1)  # softmax([0, z]) = [1 - s(z), s(z)]
    for w in (None, weights):
        expected = F.cross_entropy(two_way, targets, weight=w)
        torch.testing.assert_close(clf.loss(z, targets, w), expected)
    multi = model(num_classes=4)
    assert logits(multi, TEXTS).shape == (4, 4)


def test_pretrained_rows_equal_the_files_vectors_and_freeze_keeps_them(tmp_path: Path) -> None:
    lines = ["the 0.1 0.2 0.3", "cat -1.5 0.25 2", "sat 3 -3 0.5"]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(lines) + "\n")
    tokens = ["<pad>", "<unk>", "sat", "the", "dog", "cat"]
    matrix, coverage = build_embedding_matrix(load_vectors(path, vocab=tokens), tokens)
    assert (coverage.found, coverage.missing) == (3, 2)
    config = ClassifierConfig(vocab_size=6, embedding_size=3, hidden_size=4, freeze_embeddings=True)
    clf = TextClassifier(config, matrix)
    weight = clf.embedding.weight
    for line in lines:
        word, *values = line.split()
        expected = torch.tensor([float(v) for v in values])  # float32, as the file is parsed
        assert torch.equal(weight[tokens.index(word)], expected)
    assert weight[0].abs().sum() == 0 and clf.embedding.padding_idx == 0
    assert not weight.requires_grad
    assert clf.num_parameters() == sum(p.numel() for p in clf.parameters()) - weight.numel()
    with pytest.raises(InvalidArgumentError, match=r"embedding_matrix=\(6, 3\)"):
        TextClassifier(ClassifierConfig(vocab_size=6, embedding_size=4), matrix)


def test_a_fine_tuned_embedding_never_updates_the_padding_row() -> None:
    clf = model(pooling="mean").train()
    tokens, lengths = collate(TEXTS)
    clf.loss(clf(tokens, lengths), torch.tensor([0, 1, 0, 1])).backward()
    grad = clf.embedding.weight.grad
    assert grad[0].abs().sum() == 0 and grad[5].abs().sum() > 0


def test_lengths_outside_the_batch_are_refused() -> None:
    tokens, _ = collate(TEXTS)  # (4, 7)
    for lengths in ([4, 0, 7, 2], [4, 1, 8, 2], [4, 1, 7]):
        with pytest.raises(InvalidArgumentError, match="lengths="):
            model()(tokens, torch.tensor(lengths))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cell": "transformer"}, "cell='transformer': expected one of lstm, gru, rnn"),
        ({"pooling": "sum"}, "pooling='sum': expected one of last, mean, max, max_mean, attention"),
        ({"num_classes": 1}, "num_classes=1: expected an int >= 2"),
        ({"hidden_size": 0}, "hidden_size=0: expected an int in [1, 65536]"),
        ({"dropout": 1.0}, "dropout=1.0: expected a finite number in [0, 1)"),
    ],
)
def test_bad_configs_are_refused(options: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        ClassifierConfig(**options)
