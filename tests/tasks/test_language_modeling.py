"""Language modelling end to end through the API: learning, save/reload, exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.errors import CheckpointError, DataError, InvalidArgumentError
from rnnkit.tasks import language_modeling
from rnnkit.tasks.language_modeling import LMDataConfig, train_language_model
from rnnkit.tasks.lm_inference import load_language_model
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.trainer import TrainerConfig

TEXT = "the cat sat on the mat.\nthe dog ate the log.\n" * 60  # 2,640 characters
SMALL_MODEL = {"hidden_size": 48, "num_layers": 1, "embedding_size": 16, "dropout": 0.0}


def corpus(tmp_path: Path, text: str = TEXT) -> str:
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


def train(
    tmp_path: Path,
    out: str = "run",
    steps: int = 20,
    level: str = "char",
    resume: bool = False,
    **trainer,
):
    data = LMDataConfig(
        corpus=corpus(tmp_path), level=level, seq_len=16, batch_size=8, val_fraction=0.1
    )
    config = TrainerConfig(
        steps=steps, eval_every=5, lr=1e-2, warmup_steps=5, progress=False, **trainer
    )
    return train_language_model(tmp_path / out, data, SMALL_MODEL, config, resume=resume)


@pytest.mark.slow
def test_a_tiny_model_learns_a_short_text(tmp_path: Path) -> None:
    progress = train(tmp_path, steps=150)
    # A uniform guess over the 19 characters costs ln(19) = 2.94 nats; the text is repetitive.
    assert progress.best < 0.5
    lm = load_language_model(tmp_path / "run")
    assert lm.generate("the cat ", length=12, greedy=True)[0] == "sat on the m"
    metrics = lm.evaluate_text(TEXT[:500])
    assert metrics["loss"] < 0.5 and metrics["bpc"] == pytest.approx(
        metrics["loss"] / 0.6931, rel=1e-3
    )


def test_run_directory_layout_and_reload_gives_identical_generation(tmp_path: Path) -> None:
    train(tmp_path, steps=10)
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} >= {
        "config.json",
        "metrics.jsonl",
        "loss.png",
        "best",
        "last",
    }
    assert load_checkpoint(run / "last").trainer_state is not None
    first = load_language_model(run).generate("the ", length=40, temperature=0.9, seed=3)
    again = load_language_model(run / "best").generate("the ", length=40, temperature=0.9, seed=3)
    assert first == again
    assert first != load_language_model(run).generate("the ", length=40, temperature=0.9, seed=4)


def test_same_seed_same_weights(tmp_path: Path) -> None:
    train(tmp_path, out="a", steps=6)
    train(tmp_path, out="b", steps=6)
    a, b = (load_checkpoint(tmp_path / name / "last").state_dict for name in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path: Path, monkeypatch) -> None:
    train(tmp_path, out="straight", steps=20)
    real_step = language_modeling.LanguageModelingTask.train_step
    calls = {"n": 0}

    def interrupt_after_12(self, model, batch):
        calls["n"] += 1
        if calls["n"] > 12:
            raise KeyboardInterrupt
        return real_step(self, model, batch)

    monkeypatch.setattr(language_modeling.LanguageModelingTask, "train_step", interrupt_after_12)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, out="interrupted", steps=20)
    monkeypatch.undo()
    stopped = load_checkpoint(
        tmp_path / "interrupted" / "last"
    )  # intact, at the step-10 checkpoint
    assert stopped.trainer_state["progress"]["step"] == 10
    with pytest.raises(CheckpointError, match="--resume"):
        train(tmp_path, out="interrupted", steps=20)
    progress = train(tmp_path, out="interrupted", steps=20, resume=True)
    assert progress.step == 20
    straight = load_checkpoint(tmp_path / "straight" / "last").state_dict
    resumed = load_checkpoint(tmp_path / "interrupted" / "last").state_dict
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)


def test_resume_refuses_a_different_model(tmp_path: Path) -> None:
    train(tmp_path, steps=5)
    data = LMDataConfig(corpus=corpus(tmp_path), seq_len=16, batch_size=8, val_fraction=0.1)
    with pytest.raises(CheckpointError, match=r"model\.hidden_size"):
        train_language_model(
            tmp_path / "run",
            data,
            SMALL_MODEL | {"hidden_size": 32},
            TrainerConfig(steps=10, progress=False),
            resume=True,
        )


def test_word_level_pipeline(tmp_path: Path) -> None:
    train(tmp_path, steps=8, level="word")
    lm = load_language_model(tmp_path / "run")
    assert "<eos>" in lm.vectorizer.vocab
    assert lm.evaluate_text("the cat sat on the mat.\n")["ppl"] > 1
    text = lm.generate("the cat", length=10, temperature=1.0, seed=0)[0]
    assert all(word in lm.vectorizer.vocab for word in text.split())


def test_prompt_errors_and_stop_strings(tmp_path: Path) -> None:
    train(tmp_path, steps=60)
    lm = load_language_model(tmp_path / "run")
    with pytest.raises(InvalidArgumentError, match=r"prompt=.*unknown: 'Z', 'é'"):
        lm.generate("Zé the", length=5)
    full = lm.generate("the cat ", length=30, greedy=True)[0]
    stopped = lm.generate("the cat ", length=30, greedy=True, stop=["the"])[0]
    assert stopped == full[: full.index("the")]
    streamed = []
    lm.generate(
        "the cat ", length=30, greedy=True, stop=["the"], on_text=lambda i, t: streamed.append(t)
    )
    assert "".join(streamed) == stopped  # nothing of the stop string was streamed


def test_too_short_corpus_is_a_data_error(tmp_path: Path) -> None:
    data = LMDataConfig(corpus=corpus(tmp_path, "abc" * 5), seq_len=4, batch_size=8)
    with pytest.raises(DataError, match="tokens; expected at least"):
        train_language_model(
            tmp_path / "run", data, SMALL_MODEL, TrainerConfig(steps=2, progress=False)
        )
    assert not (tmp_path / "run" / "last").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_seeded_generation_on_cuda(tmp_path: Path) -> None:
    # The seed's generator lives where the model is (a CPU generator cannot draw CUDA noise).
    train(tmp_path, steps=4)
    lm = load_language_model(tmp_path / "run", device="cuda")
    first = lm.generate("the ", length=20, temperature=0.9, seed=3)
    assert first == lm.generate("the ", length=20, temperature=0.9, seed=3)


@pytest.mark.parametrize(("val_text", "warned"), [("ζψω ξπρ\n" * 40, True), (TEXT[:400], False)])
def test_a_val_corpus_the_vocabulary_lacks_is_named(tmp_path: Path, caplog, val_text, warned) -> None:
    """Its val_loss would score <unk> predictions and look ordinary."""
    val = tmp_path / "val.txt"
    val.write_text(val_text, encoding="utf-8")
    data = LMDataConfig(corpus=corpus(tmp_path), val_corpus=str(val), seq_len=16, batch_size=8)
    config = TrainerConfig(steps=2, eval_every=2, progress=False)
    with caplog.at_level("WARNING", logger="rnnkit"):
        train_language_model(tmp_path / "run", data, SMALL_MODEL, config)
    assert ("of its tokens are not in the training vocabulary" in caplog.text) is warned
