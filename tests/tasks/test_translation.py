"""Translation task end to end on a toy problem, save/load, BLEU through sacrebleu, configs."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit import Seq2Seq
from rnnkit.errors import InvalidArgumentError, RnnkitError
from rnnkit.tasks.translation import TranslationDataConfig, target_text
from rnnkit.text import BOS, EOS, TextVectorizer, WordPunctTokenizer
from rnnkit.text.detokenize import detokenize
from rnnkit.train.bleu import corpus_scores

SYMBOLS = "abcdef"


def reversal_pairs(count: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    sources = [" ".join(rng.choice(SYMBOLS) for _ in range(rng.randint(2, 5))) for _ in range(count)]
    return sources, [" ".join(reversed(s.split())) for s in sources]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("seq2seq") / "run"


@pytest.fixture(scope="module")
def reverser(run_dir: Path) -> Seq2Seq:
    torch.set_num_threads(1)
    model = Seq2Seq(tokenizer="whitespace", min_freq=1, batch_size=32, label_smoothing=0.0,
                    embedding_size=32, encoder_hidden_size=32, hidden_size=32, dropout=0.0,
                    attention="general", epochs=8, lr=1e-2, warmup_steps=10)  # fmt: skip
    return model.fit(*reversal_pairs(600, 0), validation_data=reversal_pairs(40, 1), verbose=0,
                     out=run_dir)  # fmt: skip


@pytest.mark.slow
def test_a_tiny_model_learns_to_reverse_symbol_sequences(reverser: Seq2Seq) -> None:
    sources, targets = reversal_pairs(50, 2)
    found = reverser.translate(sources, beam=3)
    exact = sum(f == t for f, t in zip(found, targets, strict=True)) / len(targets)
    assert exact >= 0.8, list(zip(sources, found, strict=True))[:5]
    metrics = reverser.evaluate(sources, targets)
    assert metrics["bleu"] > 80 and metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))


@pytest.mark.slow
def test_a_sentence_without_tokens_translates_to_an_empty_line(reverser: Seq2Seq) -> None:
    """It used to get whatever the decoder made of one <pad> step; the others are unchanged."""
    sources, _ = reversal_pairs(6, 4)
    alone = reverser.translate(sources, beam=3)
    mixed = reverser.translate(["", *sources[:3], "   ", *sources[3:]], beam=3)
    assert mixed == ["", *alone[:3], "", *alone[3:]]


@pytest.mark.slow
def test_save_then_load_gives_identical_translations(reverser: Seq2Seq, run_dir: Path, tmp_path: Path) -> None:  # fmt: skip
    sources, _ = reversal_pairs(20, 3)
    reverser.save(tmp_path / "saved")
    again = rnnkit.load(tmp_path / "saved")
    assert isinstance(again, Seq2Seq) and again.get_params() == reverser.get_params()
    for beam in (1, 4):
        assert again.translate(sources, beam=beam) == reverser.translate(sources, beam=beam)
    assert rnnkit.load(run_dir).translate(sources) == reverser.translate(sources)


@pytest.mark.slow
def test_the_run_keeps_validation_alignments(reverser: Seq2Seq, run_dir: Path) -> None:
    examples = json.loads((run_dir / "alignments" / "alignments.json").read_text())
    assert len(examples) == 3
    for example in examples:
        weights = torch.tensor(example["weights"])  # (output tokens + <eos>, source tokens)
        assert weights.shape == (len(example["output_tokens"]), len(example["source_tokens"]))
        assert torch.allclose(weights.sum(-1), torch.ones(len(weights)), atol=1e-5)
    assert (run_dir / "alignments" / "example_1.png").stat().st_size > 0
    alignment = reverser.alignment("a b c d")
    assert alignment.output_tokens[-1] == EOS


def test_sacrebleu_gives_the_known_scores() -> None:
    # every n-gram precision is 1; brevity penalty exp(1 - 8/7): BLEU = 100 * exp(-1/7)
    scores = corpus_scores(["a b c d e f g"], ["a b c d e f g h"])
    assert scores["bleu"] == pytest.approx(100 * math.exp(1 - 8 / 7), abs=1e-6)
    assert corpus_scores(["A dog runs."], ["A dog runs."]) == pytest.approx({"bleu": 100, "chrf": 100})
    with pytest.raises(InvalidArgumentError, match="one per hypothesis"):
        corpus_scores(["a"], ["a", "b"])


def test_hypotheses_are_detokenised_before_scoring() -> None:
    assert detokenize(["A", "man", "'", "s", "t", "-", "shirt", ",", "(", "red", ")", "."]) == (
        "A man's t-shirt, (red)."
    )
    vectorizer = TextVectorizer(WordPunctTokenizer(), specials=[BOS, EOS]).adapt(["A dog runs."])
    ids = [vectorizer.vocab.bos_id, *vectorizer.encode("A dog runs."), vectorizer.vocab.eos_id]
    hypothesis = target_text(vectorizer, ids)
    assert hypothesis == "A dog runs."  # not "A dog runs ." (which 13a would score lower)
    assert corpus_scores([hypothesis], ["A dog runs."])["bleu"] == pytest.approx(100)


def test_untrained_and_badly_configured_models_say_so() -> None:
    with pytest.raises(RnnkitError, match="call fit first"):
        Seq2Seq().translate(["x"])
    with pytest.raises(InvalidArgumentError, match="hiden"):
        Seq2Seq(hiden=3)
    with pytest.raises(InvalidArgumentError, match="hiden"):
        Seq2Seq().set_params(hiden=3)
    with pytest.raises(InvalidArgumentError, match="attention="):
        Seq2Seq(attention="luong").fit(["a b"] * 4, ["b a"] * 4)
    for options, named in (({"tokenizer": "char"}, "tokenizer="), ({"max_len": 0}, "max_len="),
                           ({"label_smoothing": 1.0}, "label_smoothing="),
                           ({"val_target": "x"}, "val_target=")):  # fmt: skip
        with pytest.raises(InvalidArgumentError, match=named):
            TranslationDataConfig(**options)


@pytest.mark.slow
@pytest.mark.parametrize("ema_epochs", [0.0, 1.0])  # the weights as trained, and averaged
def test_a_resumed_run_ends_with_the_same_weights(tmp_path: Path, ema_epochs: float) -> None:
    from rnnkit.data.parallel import from_lists
    from rnnkit.tasks.translation import fit_translator
    from rnnkit.train.checkpoint import load_checkpoint
    from rnnkit.train.trainer import TrainerConfig

    train, val = from_lists(*reversal_pairs(60, 5)), from_lists(*reversal_pairs(8, 6))
    data = TranslationDataConfig(tokenizer="whitespace", min_freq=1, batch_size=16)
    model = {"embedding_size": 8, "encoder_hidden_size": 8, "hidden_size": 8, "attention": "additive"}

    def run(out: Path, steps: int, resume: bool = False) -> None:
        trainer = TrainerConfig(steps=steps, eval_every=3, schedule="constant", warmup_steps=0,
                                ema_epochs=ema_epochs, progress=False)  # same lr whatever the budget
        fit_translator(out, train, val, None, data, model, trainer, resume)

    run(tmp_path / "whole", 6)
    run(tmp_path / "parts", 3)
    run(tmp_path / "parts", 6, resume=True)
    whole = load_checkpoint(tmp_path / "whole" / "last").state_dict
    parts = load_checkpoint(tmp_path / "parts" / "last").state_dict
    assert whole.keys() == parts.keys()
    assert all(torch.equal(whole[k], parts[k]) for k in whole)
