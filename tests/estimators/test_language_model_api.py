"""rnnkit.LanguageModel: fit on a text, a path or documents; generate; perplexity; save/load.

Also: the same job from the CLI and from Python gives bitwise-identical weights.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.train.checkpoint import load_checkpoint

TEXT = "to be or not to be, that is the question.\n" * 60
TINY = {"hidden_size": 32, "num_layers": 1, "embedding_size": 8, "seq_len": 16, "batch_size": 8,
        "eval_every": 6, "device": "cpu"}  # fmt: skip
CLI_TINY = ["--hidden", "32", "--layers", "1", "--embed", "8", "--seq-len", "16",
            "--batch-size", "8", "--eval-every", "6", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def fitted() -> rnnkit.LanguageModel:
    return rnnkit.LanguageModel(**TINY).fit(TEXT, steps=12, verbose=0)


def weights_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_defaults_come_from_the_task_configs() -> None:
    lm = rnnkit.LanguageModel()
    assert lm.lr == rnnkit.LMTrainerConfig.lr == 4e-3 and lm.minutes == 10.0
    assert lm.num_layers == 2 and lm.level == "char"
    with pytest.raises(ValueError, match=r"corpus: unknown LanguageModel option; valid options .*seq_len"):
        rnnkit.LanguageModel(corpus="nietzsche")


def test_generate_is_reproducible_and_save_load_keeps_it(fitted, tmp_path: Path) -> None:
    first = fitted.generate("to be", length=30, seed=1, temperature=0.8)
    assert isinstance(first, str) and len(first) == 30
    assert fitted.generate("to be", length=30, seed=1, temperature=0.8) == first
    assert fitted.generate("to be", length=30, seed=1) == first  # temperature 0.8 by default
    with pytest.raises(ValueError, match=r"temprature: unknown generate option; valid .*top_p"):
        fitted.generate("to be", temprature=0.5)
    two = fitted.generate("to be", length=10, seed=1, num_samples=2)
    assert isinstance(two, list) and len(two) == 2
    fitted.save(tmp_path / "lm")
    loaded = rnnkit.load(tmp_path / "lm")
    assert isinstance(loaded, rnnkit.LanguageModel)  # with the arguments of the run it holds:
    assert loaded.get_params() == fitted.get_params() | {"steps": 12, "minutes": None}
    assert loaded.generate("to be", length=30, seed=1, temperature=0.8) == first


def test_perplexity_is_exp_of_the_loss(fitted) -> None:
    held_out = "not to be or to be\n" * 5
    metrics = fitted.evaluate(held_out)
    assert fitted.perplexity(held_out) == pytest.approx(math.exp(metrics["loss"]))
    assert 1 < fitted.perplexity(held_out) < 40  # below uniform over the characters


def test_a_text_a_path_and_documents_train_the_same_model(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    lines = TEXT.splitlines()  # documents are joined with newlines: the same text minus the last
    runs = [rnnkit.LanguageModel(**TINY).fit(x, steps=6, verbose=0) for x in (TEXT, str(path))]
    assert weights_equal(*(r.fitted_.model.state_dict() for r in runs))
    docs = rnnkit.LanguageModel(**TINY).fit(lines, steps=6, verbose=0)
    assert docs.fitted_.config["data"]["corpus"] == "<text>"
    assert runs[1].fitted_.config["data"]["corpus"] == str(path)


def test_cli_and_python_give_bitwise_identical_weights(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    out = tmp_path / "cli"
    assert main(["train", "lm", "--corpus", str(corpus), "--steps", "12", "--seed", "3",
                 *CLI_TINY, "--out", str(out), "--no-progress"]) == 0  # fmt: skip
    api = rnnkit.LanguageModel(**TINY, seed=3).fit(str(corpus), steps=12, verbose=0)
    assert weights_equal(load_checkpoint(out / "best").state_dict, api.fitted_.model.state_dict())
    # The CLI's lr default is the dataclass's: both ran with 4e-3, as config.json records.
    assert api.fitted_.config["trainer"] == load_checkpoint(out / "best").config["trainer"] | {
        "progress": False}  # fmt: skip


def test_cli_run_again_from_its_config_json(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", "lm", "--corpus", str(corpus), "--steps", "8", "--seed", "2",
                 "--recurrent-dropout", "0.1", *CLI_TINY, "--out", str(first), "--no-progress"]) == 0  # fmt: skip
    assert main(["train", "lm", "--config", str(first / "config.json"), "--out", str(second)]) == 0
    a, b = load_checkpoint(first / "best"), load_checkpoint(second / "best")
    assert a.config["model"]["recurrent_dropout"] == 0.1 and a.config == b.config
    assert weights_equal(a.state_dict, b.state_dict)


def test_toml_config_and_flags_over_it(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    config = tmp_path / "lm.toml"
    config.write_text(f'[data]\ncorpus = "{corpus}"\nseq_len = 16\nbatch_size = 8\n'
                      "[model]\nnum_layers = 1\nhidden_size = 16\nembedding_size = 8\n"
                      '[trainer]\nsteps = 4\ndevice = "cpu"\n')  # fmt: skip
    out = tmp_path / "run"
    assert main(["train", "lm", "--config", str(config), "--hidden", "24", "--out", str(out)]) == 0
    saved = load_checkpoint(out / "best").config
    assert saved["model"]["hidden_size"] == 24 and saved["model"]["num_layers"] == 1
    assert saved["trainer"]["steps"] == 4 and saved["trainer"]["minutes"] is None


def test_unknown_key_in_a_config_file_is_one_error_line(tmp_path: Path, capsys) -> None:
    config = tmp_path / "bad.json"
    config.write_text('{"model": {"hiden_size": 8}}')
    assert main(["train", "lm", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"rnnkit: error: {config}: [model] hiden_size: unknown model option; valid options are cell, dropout, "
        "embedding_size, hidden_size, implementation, layer_norm, num_layers, proj_size, "
        "recurrent_dropout, tie_weights, vocab_size"
    ]


def test_a_run_assembled_from_the_parts_loads(tmp_path: Path) -> None:
    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
    from rnnkit.tasks.language_modeling import (
        LanguageModelingTask,
        LMDataConfig,
        build_vectorizer,
        encode_corpus,
    )
    from rnnkit.train.trainer import Trainer, TrainerConfig

    data = LMDataConfig(corpus="<text>", seq_len=16, batch_size=8)
    vectorizer = build_vectorizer(TEXT, data)
    task = LanguageModelingTask(encode_corpus(TEXT, vectorizer), vectorizer, data)
    model = LanguageModel(LanguageModelConfig(vocab_size=vectorizer.vocab_size, hidden_size=16,
                                              num_layers=1, embedding_size=8))  # fmt: skip
    Trainer(model, task, TrainerConfig(steps=2, device="cpu"), tmp_path / "run", verbose=0).fit()
    loaded = rnnkit.load(tmp_path / "run")  # no KeyError: the Trainer wrote every section
    assert loaded.hidden_size == 16 and len(loaded.generate("to", length=5, seed=0)) == 5


def test_a_checkpoint_without_a_model_section_is_a_clear_error(fitted, tmp_path: Path) -> None:
    from rnnkit.errors import CheckpointError
    from rnnkit.train.checkpoint import save_checkpoint

    config = {k: v for k, v in fitted.fitted_.config.items() if k != "model"}
    save_checkpoint(tmp_path / "ckpt", fitted.fitted_.model.state_dict(), config,
                    fitted.fitted_.vectorizer.to_dict())  # fmt: skip
    with pytest.raises(CheckpointError, match=r"config.json lacks the section\(s\) model"):
        rnnkit.load(tmp_path / "ckpt")


@pytest.mark.slow
def test_cli_tensorboard_flag_writes_events(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    assert main(["train", "lm", "--corpus", str(corpus), "--steps", "6", *CLI_TINY, "--out",
                 str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"), "--no-progress"]) == 0  # fmt: skip
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
