"""Initial embeddings from word vectors: the vectors' words join the vocabulary for unseen words."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.tasks.pretrained import add_vector_words, initial_embedding
from rnnkit.text import TextVectorizer

VECTORS = "goal 1 0 0\nzebra 0 1 0\nmatch 0.5 0.5 0\nwar 0 0 1\nquiet 0.2 0.2 0.2\n"


@pytest.fixture
def vectors(tmp_path: Path) -> str:
    path = tmp_path / "vectors.txt"
    path.write_text(VECTORS)
    return str(path)


def adapted() -> TextVectorizer:
    return TextVectorizer("word").adapt(["goal match goal", "unseen goal"])


def test_words_unseen_in_training_keep_their_vectors(vectors: str, caplog) -> None:
    vectorizer = adapted()
    learned = list(vectorizer.vocab)  # <pad> <unk> goal match unseen
    ids = [vectorizer.encode("goal match goal")]
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        added = add_vector_words(vectors, vectorizer, 4)
        matrix, size = initial_embedding(vectors, vectorizer, 100, 100, 0, ids, added)
    assert added == 2
    tokens = list(vectorizer.vocab)
    assert tokens[: len(learned)] == learned  # the training words keep their ids
    assert tokens[len(learned) :] == ["zebra", "war"]  # of the first 4 rows, the new ones
    assert size == 3 and matrix.shape == (7, 3)
    np.testing.assert_array_equal(matrix[tokens.index("zebra")], [0, 1, 0])
    np.testing.assert_array_equal(matrix[tokens.index("war")], [0, 0, 1])
    assert vectorizer.encode("zebra war quiet") == [5, 6, 1]  # quiet: past the limit
    # coverage counts the training vocabulary only: goal and match of 3 (unseen, <unk> missing)
    assert "embeddings: 2 of 4 tokens found" in caplog.text
    assert "2 more words of the vectors in the vocabulary" in caplog.text


def test_no_vector_words_keeps_the_training_vocabulary(vectors: str) -> None:
    vectorizer = adapted()
    before = list(vectorizer.vocab)
    assert add_vector_words(vectors, vectorizer, 0) == 0
    matrix, _ = initial_embedding(vectors, vectorizer, 100, 100, 0)
    assert list(vectorizer.vocab) == before and matrix.shape == (len(before), 3)
    assert vectorizer.extend(["goal", "<unk>", "new", "new"]) == 1  # known and specials skipped
    assert list(vectorizer.vocab) == [*before, "new"]
    assert TextVectorizer.from_dict(vectorizer.to_dict()).encode("new goal") == [5, 2]


def test_a_classifier_trains_vector_words_past_the_cap_and_keeps_unseen_ones(
    vectors: str, tmp_path: Path
) -> None:
    from rnnkit.data.readers import from_lists
    from rnnkit.tasks.classification import ClassifyDataConfig, fit_classifier
    from rnnkit.text import TextVectorizer
    from rnnkit.train.checkpoint import load_checkpoint
    from rnnkit.train.trainer import TrainerConfig

    texts = ["goal goal match", "war war match", "goal match", "war match"] * 5
    labels = ["sports", "world", "sports", "world"] * 5
    data = ClassifyDataConfig(embeddings=vectors, vocab_size=3)  # <pad>, <unk>, "match"
    model = {"hidden_size": 4, "dropout": 0.0, "embedding_dropout": 0.0}
    budget = TrainerConfig(epochs=1, progress=False)
    fit_classifier(tmp_path / "run", from_lists(texts, labels), None, None, data, model, budget)
    best = load_checkpoint(tmp_path / "run" / "best")
    tokens = list(TextVectorizer.from_dict(best.vocab).vocab)
    assert tokens == ["<pad>", "<unk>", "match", "goal", "zebra", "war", "quiet"]
    weight = best.state_dict["embedding.weight"]
    assert not torch.allclose(weight[3], torch.tensor([1.0, 0, 0]))  # goal: trained
    torch.testing.assert_close(weight[4], torch.tensor([0.0, 1, 0]), atol=1e-3, rtol=0)  # zebra
