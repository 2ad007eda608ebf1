"""The n-gram bag: hashed ids against a direct computation, masking, means, token shares."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.batching import collate
from rnnkit.errors import InvalidArgumentError
from rnnkit.models.classifier import ClassifierConfig, TextClassifier
from rnnkit.models.ngrams import HASH_MULTIPLIER, NgramBag, ngram_bag_ids

V, BUCKETS, D = 50, 97, 4
TEXTS = [[5, 3, 9, 2], [7], [4, 4, 8, 12, 3, 6, 2], [11, 2]]


def random_bag(ngrams: int, seed: int = 0) -> NgramBag:
    """A bag whose rows (all but padding's) are random, as after training."""
    torch.manual_seed(seed)
    bag = NgramBag(V, ngrams, BUCKETS, D)
    with torch.no_grad():
        bag.vectors.weight[1:].normal_()
    return bag


def text_ngrams(text: list[int], ngrams: int) -> list[int]:
    """The bag rows of one text, order by order, from the module docstring's formula."""
    rows = list(text)
    for n in range(2, ngrams + 1):
        for start in range(len(text) - n + 1):
            h = text[start]
            for word in text[start + 1 : start + n]:
                h = (h * HASH_MULTIPLIER + word) % BUCKETS
            rows.append(V + h)
    return rows


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.lists(st.integers(1, V - 1), min_size=1, max_size=9), min_size=1, max_size=4),
    ngrams=st.integers(1, 4),
    garbage=st.integers(0, V - 1),
)
def test_bag_ids_are_each_texts_words_and_hashed_ngrams(texts, ngrams, garbage) -> None:
    ids, lengths = collate(texts)
    ids[ids == 0] = garbage  # whatever the padded steps hold, they are never in the bag
    bag = ngram_bag_ids(ids, lengths, ngrams, V, BUCKETS)
    for row, text in zip(bag.tolist(), texts, strict=True):
        assert [r for r in row if r != 0] == text_ngrams(text, ngrams)


def test_the_hash_is_pinned() -> None:
    """Saved models depend on it: the values written out, not recomputed by the formula."""
    bag = ngram_bag_ids(torch.tensor([[7, 9, 11]]), torch.tensor([3]), 3, V, BUCKETS)
    assert bag.tolist() == [[7, 9, 11, V + 25, V + 87, V + 82]]
    bigram = ngram_bag_ids(torch.tensor([[2, 3]]), torch.tensor([2]), 2, 10, 262_144)
    assert bigram.tolist() == [[2, 3, 10 + 165_001]]


def test_bag_is_the_mean_of_the_texts_rows_whatever_the_padding() -> None:
    bag = random_bag(3)
    ids, lengths = collate(TEXTS)
    padded = torch.nn.functional.pad(ids, (0, 5), value=0)
    with torch.no_grad():
        together, more_padding = bag(ids, lengths), bag(padded, lengths)
        for b, text in enumerate(TEXTS):
            rows = bag.vectors.weight[text_ngrams(text, 3)]  # (n-grams, D)
            torch.testing.assert_close(together[b], rows.mean(0))
            alone = bag(torch.tensor([text]), torch.tensor([len(text)]))[0]
            torch.testing.assert_close(alone, together[b], rtol=0, atol=1e-7)
    torch.testing.assert_close(more_padding, together, rtol=0, atol=1e-7)


def test_a_text_of_padding_only_gets_the_zero_vector() -> None:
    bag = random_bag(2)  # an empty text is encoded as one padding step
    vectors = bag(torch.tensor([[0, 0], [3, 4]]), torch.tensor([1, 2]))
    assert torch.equal(vectors[0], torch.zeros(D)) and vectors[1].abs().sum() > 0


def test_unigram_bag_has_no_buckets_and_padding_row_stays_zero() -> None:
    assert NgramBag(V, 1, BUCKETS, D).vectors.num_embeddings == V
    bag = random_bag(2)
    assert bag.vectors.num_embeddings == V + BUCKETS
    ids, lengths = collate(TEXTS)
    bag(ids, lengths).sum().backward()
    assert torch.equal(bag.vectors.weight.grad[0], torch.zeros(D))


def test_rows_start_at_zero_and_those_never_in_training_stay_there() -> None:
    """A word or n-gram that no training text holds adds nothing at prediction."""
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=V, embedding_size=6, hidden_size=5, ngrams=2,
                              ngram_buckets=BUCKETS, ngram_dim=D)  # fmt: skip
    clf = TextClassifier(config)
    weight = clf.ngram_bag.vectors.weight
    assert not weight.any()
    optimizer = torch.optim.AdamW(clf.parameters(), lr=0.01)
    ids, lengths = collate(TEXTS)
    for _ in range(5):
        optimizer.zero_grad()
        clf.loss(clf(ids, lengths), torch.tensor([0, 1, 1, 0])).backward()
        optimizer.step()
    seen = {row for text in TEXTS for row in text_ngrams(text, 2)}
    moved = set(weight.detach().abs().sum(1).nonzero()[:, 0].tolist())
    assert moved == seen


def test_token_shares_add_up_to_the_bag_along_a_direction() -> None:
    bag = random_bag(3, seed=1)
    direction = torch.randn(D)
    for text in TEXTS:
        ids = torch.tensor(text)
        with torch.no_grad():
            shares = bag.token_shares(ids, direction)
            whole = bag(ids[None], torch.tensor([len(text)]))[0] @ direction
        assert shares.shape == (len(text),)
        torch.testing.assert_close(shares.sum(), whole)
    one = bag.token_shares(torch.tensor([7, 9]), direction)  # 7, 9 and the bigram (7, 9)
    rows = bag.vectors.weight.detach() @ direction
    bigram = rows[V + (7 * HASH_MULTIPLIER + 9) % BUCKETS]
    torch.testing.assert_close(one, torch.stack([rows[7], rows[9]]) / 3 + bigram / 6)


def test_classifier_joins_the_bag_to_the_pooled_features() -> None:
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=V, embedding_size=6, hidden_size=5, ngrams=2,
                              ngram_buckets=BUCKETS, ngram_dim=D, num_classes=3)  # fmt: skip
    clf = TextClassifier(config).eval()
    clf.ngram_bag = random_bag(2)
    assert clf.head.in_features == 5 + D
    ids, lengths = collate(TEXTS)
    with torch.no_grad():
        output, _ = clf.rnn(clf.embedding(ids))
        features = torch.cat([clf.pool(output, lengths), clf.ngram_bag(ids, lengths)], dim=-1)
        torch.testing.assert_close(clf(ids, lengths), clf.head(features))
    without = TextClassifier(ClassifierConfig(vocab_size=V, ngrams=0))
    assert without.ngram_bag is None and without.head.in_features == without.config.hidden_size


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ngrams": -1}, r"ngrams=-1: expected an int in \[0, 5\]"),
        ({"ngrams": 6}, r"ngrams=6: expected an int in \[0, 5\]"),
        ({"ngrams": 2.0}, r"ngrams=2.0: expected an int"),
        ({"ngram_buckets": 0}, r"ngram_buckets=0: expected an int in \[1, 16777216\]"),
        ({"ngram_dim": 0}, r"ngram_dim=0: expected an int in \[1, "),
        ({"ngram_dim": "16"}, r"ngram_dim='16': expected an int"),
    ],
)
def test_bad_ngram_options_are_named(options, message) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        ClassifierConfig(**options)


def test_a_run_saved_before_the_bag_existed_loads_without_one(tmp_path) -> None:
    """config.json files written before 2026-12-05 have no ``ngrams``: they mean no bag, not
    today's default."""
    from dataclasses import asdict

    from rnnkit.train.checkpoint import build_model, load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    old = TextClassifier(ClassifierConfig(vocab_size=V, hidden_size=5, ngrams=0))
    settings = {k: v for k, v in asdict(old.config).items() if not k.startswith("ngram")}
    config = {"task": "classify", "model": settings}
    path = save_checkpoint(tmp_path / "c", old.state_dict(), config, None)
    loaded = build_model(load_checkpoint(path), ClassifierConfig, TextClassifier)
    assert loaded.config.ngrams == 0 and loaded.ngram_bag is None
    ids, lengths = collate(TEXTS)
    torch.testing.assert_close(loaded.eval()(ids, lengths), old.eval()(ids, lengths))
    assert ClassifierConfig().ngrams > 0  # the default the old file must not get


@pytest.mark.parametrize(
    ("options", "named"),
    [({"hidden_size": 40_000}, "hidden_size=40000"),
     ({"ngram_dim": 10_000}, "ngram_dim=10000"),
     ({"embedding_size": 40_000}, "embedding_size=40000")],
)  # fmt: skip
def test_a_model_too_large_for_memory_names_its_largest_part(monkeypatch, options, named) -> None:
    monkeypatch.setattr("rnnkit.validation._physical_memory", lambda: 8 << 30)  # 8 GiB
    with pytest.raises(InvalidArgumentError, match=f"{named}: expected a smaller model"):
        ClassifierConfig(vocab_size=100_000, **options)
