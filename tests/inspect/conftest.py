"""Tiny trained runs shared by the inspect tests: a 2-layer LSTM character language model and
a bidirectional GRU classifier with attention pooling (a few seconds of training each)."""

from __future__ import annotations

import contextlib
import gzip
import io
import random
from pathlib import Path

import pytest

from rnnkit.cli.main import main

LM_TEXT = 'he said "to be or not to be" and left.\nshe said "that is the question", then sat.\n' * 40
CUES = {"pos": ["good", "great", "fine"], "neg": ["bad", "awful", "poor"]}
FILLER = ["the", "film", "was", "quite", "and", "plot", "a", "very"]


def _train(argv: list[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0


@pytest.fixture(scope="session")
def lm_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inspect_lm")
    corpus = root / "corpus.txt.gz"
    corpus.write_bytes(gzip.compress(LM_TEXT.encode()))
    _train(["train", "lm", "--corpus", str(corpus), "--steps", "30", "--hidden", "16", "--layers", "2",
            "--embed", "8", "--seq-len", "24", "--batch-size", "8", "--eval-every", "30",
            "--out", str(root / "run"), "--no-progress"])  # fmt: skip
    return root / "run"


@pytest.fixture(scope="session")
def classifier_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inspect_clf")
    rng = random.Random(0)
    rows = ["label,text"]
    for _ in range(240):
        label = rng.choice(sorted(CUES))
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(CUES[label]))
        rows.append(f"{label},{' '.join(words)}")
    data = root / "train.csv"
    data.write_text("\n".join(rows) + "\n")
    _train(["train", "classify", "--train", str(data), "--cell", "gru", "--bidirectional",
            "--pooling", "attention", "--hidden", "8", "--embed", "8", "--attention-size", "4",
            "--epochs", "3", "--batch-size", "16", "--lr", "0.05", "--warmup-steps", "3", "--max-len", "12",
            "--out", str(root / "run"), "--no-progress"])  # fmt: skip
    return root / "run"
