"""rnnkit.Seq2Seq: arguments from the config dataclasses, the same weights from the CLI and from
Python, a run's config.json trains the same run again, rnnkit.load of a seq2seq run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.errors import InvalidArgumentError
from rnnkit.train.checkpoint import load_checkpoint

TINY = {"embedding_size": 8, "encoder_hidden_size": 8, "hidden_size": 8, "attention_size": 4,
        "min_freq": 1, "batch_size": 16, "device": "cpu"}  # fmt: skip
CLI_TINY = ["--embed", "8", "--encoder-hidden-size", "8", "--hidden", "8", "--attention-size", "4",
            "--min-freq", "1", "--batch-size", "16", "--device", "cpu", "--no-progress"]  # fmt: skip


def pairs(count: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    sources = [" ".join(rng.choice("abcde") for _ in range(rng.randint(1, 4))) for _ in range(count)]
    return sources, [" ".join(reversed(s.split())) + " ." for s in sources]


def write(folder: Path, name: str, texts: list[str]) -> Path:
    path = folder / name
    path.write_text("".join(t + "\n" for t in texts))
    return path


def weights_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_defaults_come_from_the_task_configs() -> None:
    model = rnnkit.Seq2Seq()
    assert model.lr == rnnkit.Seq2SeqTrainerConfig.lr and model.epochs == 10
    assert model.warmup_steps == 100 and model.cell == "gru"
    assert "proj_size" not in model.get_params() and "source" not in model.get_params()
    with pytest.raises(ValueError, match=r"source: unknown Seq2Seq option; valid options .*attention"):
        rnnkit.Seq2Seq(source="train.de")
    assert rnnkit.Seq2Seq(hidden_size=16).set_params(attention="general").get_params()["attention"] == "general"
    with pytest.raises(InvalidArgumentError, match=r"^attention='dot': expected hidden_size =="):
        rnnkit.Seq2Seq(hidden_size=16).set_params(attention="dot")  # checked as the constructor does
    with pytest.raises(InvalidArgumentError, match="proj_size=4"):
        rnnkit.Seq2SeqConfig(cell="lstm", hidden_size=8, proj_size=4)


def test_engine_options_reach_encoder_and_decoder() -> None:
    config = rnnkit.Seq2SeqConfig(cell="lstm", layer_norm=True, implementation="loop",
                                  embedding_size=4, encoder_hidden_size=4, hidden_size=4)  # fmt: skip
    from rnnkit.models.seq2seq import Seq2Seq

    model = Seq2Seq(config)
    for rnn in (model.encoder, model.decoder):
        assert rnn.layer_norm and rnn.implementation == "loop"
    assert model.encoder.hidden_size == 4 and model.encoder.bidirectional


@pytest.mark.slow
def test_cli_and_python_give_bitwise_identical_weights(tmp_path: Path) -> None:
    src, tgt = pairs(60, 0)
    val_src, val_tgt = pairs(8, 1)
    files = [write(tmp_path, n, t) for n, t in (("s", src), ("t", tgt), ("vs", val_src), ("vt", val_tgt))]
    out = tmp_path / "cli"
    assert main(["train", "seq2seq", "--source", str(files[0]), "--target", str(files[1]),
                 "--val-source", str(files[2]), "--val-target", str(files[3]), "--steps", "6",
                 "--seed", "3", *CLI_TINY, "--out", str(out)]) == 0  # fmt: skip
    api = rnnkit.Seq2Seq(**TINY, seed=3).fit(src, tgt, validation_data=(val_src, val_tgt),
                                             steps=6, verbose=0)  # fmt: skip
    cli = load_checkpoint(out / "best")
    assert weights_equal(cli.state_dict, api.fitted_.model.state_dict())
    assert api.fitted_.config["trainer"] == cli.config["trainer"] | {"progress": False}
    # the run directory loads as an estimator with the arguments it was trained with
    loaded = rnnkit.load(out)
    assert isinstance(loaded, rnnkit.Seq2Seq)
    assert loaded.get_params() == api.get_params() | {"epochs": None, "steps": 6}  # the run's budget
    assert loaded.translate(val_src, beam=2) == api.translate(val_src, beam=2)
    metrics = loaded.evaluate(val_src, val_tgt, beam=1)
    assert {"bleu", "chrf", "loss", "perplexity"} <= set(metrics) and metrics["beam"] == 1


@pytest.mark.slow
def test_cli_run_again_from_its_config_json(tmp_path: Path) -> None:
    src, tgt = pairs(60, 2)
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", "seq2seq", "--source", str(write(tmp_path, "s", src)), "--target",
                 str(write(tmp_path, "t", tgt)), "--steps", "4", "--seed", "2",
                 "--recurrent-dropout", "0.1", *CLI_TINY, "--out", str(first)]) == 0  # fmt: skip
    assert main(["train", "seq2seq", "--config", str(first / "config.json"), "--out", str(second)]) == 0
    a, b = load_checkpoint(first / "best"), load_checkpoint(second / "best")
    assert a.config["model"]["recurrent_dropout"] == 0.1 and a.config == b.config
    assert weights_equal(a.state_dict, b.state_dict)


def test_a_config_file_with_an_unknown_option_is_one_error_line(tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"task": "seq2seq", "model": {"hiden": 8}}))
    assert main(["train", "seq2seq", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hiden: unknown model option" in err[0]
