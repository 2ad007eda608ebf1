"""Damaged checkpoints, run directories and metric logs from Python; a diverging run.

A checkpoint whose weights hold NaN or ±inf is refused on load and never written; a run whose
training diverges stops with one error before it saves such weights; a run directory whose
files would fail later is refused before a resume starts; the metrics log names the line of
anything that is not a record (bytes that are not UTF-8, nesting too deep to parse, ...).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from doubles import LineTask
from torch import Tensor, nn

from rnnkit.errors import CheckpointError, DataError, RnnkitError
from rnnkit.train.callbacks import Callback
from rnnkit.train.checkpoint import load_checkpoint, read_json, save_checkpoint
from rnnkit.train.metrics import MetricLog
from rnnkit.train.run_dir import check_output_dir
from rnnkit.train.trainer import Trainer, TrainerConfig

_spec = importlib.util.spec_from_file_location(
    "bad_inputs", Path(__file__).parents[1] / "cli" / "test_bad_inputs.py"
)
_bad_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bad_inputs)  # type: ignore[union-attr]
resign = _bad_inputs.resign  # a checkpoint's manifest rewritten after an edit

CONFIG = {"task": "lm", "model": {"hidden_size": 8}}
DEEP = "[" * 100_000 + "]" * 100_000


class PoisonedLine(LineTask):
    """``poison_at`` makes the training loss NaN from that step on (as a diverging run's)."""

    def __init__(self, poison_at: int | None = None) -> None:
        super().__init__()
        self.poison_at, self.steps = poison_at, 0

    def train_step(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        self.steps += 1
        loss, size = super().train_step(model, batch)
        if self.poison_at is not None and self.steps >= self.poison_at:
            loss = loss * float("nan")
        return loss, size


def _trainer(out: Path, task: PoisonedLine, callbacks: list[Callback] | None = None) -> Trainer:
    torch.manual_seed(0)
    config = TrainerConfig(epochs=3, lr=0.05, warmup_steps=0, progress=False, precision="fp32")
    return Trainer(nn.Linear(4, 1), task, config, out, callbacks=callbacks or [], verbose=0)


def test_a_diverging_run_stops_before_saving_nan_weights(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(
        RnnkitError, match=r"^training diverged at step 6: the training loss is nan; "
    ):
        _trainer(out, PoisonedLine(poison_at=6)).fit()
    saved = load_checkpoint(out / "last")  # epoch 1's, finite: it loads
    assert saved.trainer_state["progress"]["step"] == 4


class PoisonWeights(Callback):
    """Makes the weights NaN at the end of the first epoch, after its loss was checked."""

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        if step == 4:
            with torch.no_grad():
                trainer.model.weight.fill_(float("nan"))


def test_non_finite_weights_stop_the_run_at_validation(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RnnkitError, match=r"^training diverged at step 4: weight weight holds NaN"):
        _trainer(out, PoisonedLine(), [PoisonWeights()]).fit()
    assert not (out / "last").exists() and not (out / "best").exists()




def test_load_refuses_non_finite_weights_and_names_the_tensor(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    ckpt = save_checkpoint(tmp_path / "c", {"a": torch.ones(2), "b": torch.zeros(3)}, CONFIG, None)
    save_file({"a": torch.ones(2), "b": torch.tensor([0.0, float("inf"), 0.0])}, ckpt / "model.safetensors",
              metadata={"format": "pt", "rnnkit_aliases": "{}"})  # fmt: skip
    resign(ckpt)
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: tensor 'b' holds NaN or infinite"
    ):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("aliases", ["[1]", '{"x": ["a"]}', DEEP])
def test_load_refuses_malformed_alias_metadata(aliases: str, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    ckpt = save_checkpoint(tmp_path / "c", {"a": torch.ones(2)}, CONFIG, None)
    save_file({"a": torch.ones(2)}, ckpt / "model.safetensors",
              metadata={"format": "pt", "rnnkit_aliases": aliases})  # fmt: skip
    resign(ckpt)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: unreadable"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize(
    ("text", "problem"),
    [(DEEP, "nested too deeply"), ('{"a": 1' + "0" * 5000 + "}", "4,300 digits"),
     ("[1]", "holds a list"), ('{"a": 1', "not valid JSON")],
)  # fmt: skip
def test_read_json_names_the_file(text: str, problem: str, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(text)
    with pytest.raises(CheckpointError, match=rf"x\.json: .*{problem}"):
        read_json(tmp_path / "x.json")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    save_checkpoint(out / "last", {"w": torch.ones(2)}, CONFIG, None)
    (out / "config.json").write_text(json.dumps(CONFIG))
    (out / "metrics.jsonl").write_text('{"step": 1, "val_loss": 2.0}\n')
    return out


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (lambda out: (out / "config.json").write_text("{x"), CheckpointError, r"run/config\.json: not valid JSON"),
        (lambda out: (out / "config.json").write_text("[1]"), CheckpointError, r"run/config\.json: holds a list"),
        (lambda out: (out / "best").write_text("x"), CheckpointError, r"run/best: is a file"),
        (lambda out: (out / "loss.png").mkdir(), CheckpointError, r"run/loss\.png: is not a file"),
        (lambda out: (out / "last" / "manifest.json").write_text(DEEP), CheckpointError, r"manifest\.json: not valid JSON \(arrays"),
        (lambda out: (out / "metrics.jsonl").write_bytes(b'{"step": 1}\n\xff\n'), DataError, r"metrics\.jsonl:2: not JSON \(bytes"),
    ],
)  # fmt: skip
def test_resume_refuses_a_damaged_run_directory(run_dir: Path, damage, error, message: str) -> None:
    assert check_output_dir(run_dir, CONFIG, resume=True) is True
    damage(run_dir)
    with pytest.raises(error, match=message):
        check_output_dir(run_dir, CONFIG, resume=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"step": 1}\n\xff\xfe{garbage\n{"step": 2}\n', r":2: not JSON \(bytes b'\\xff\\xfe\{g' are not valid UTF-8\)"),
        (b'{"step": 1}\n' + DEEP.encode() + b"\n", r":2: not JSON \(arrays or objects nested too deeply"),
        (b'{"step": 1}\n[1, 2]\n', r":2: a JSON list; expected one JSON object a line"),
        (b'{"step": true}\n', r":1: step True is not an int"),
        (b'{"step": 1}\n{"step": 1' + b"0" * 5000 + b"}\n", r":2: not JSON \(an integer of more than 4,300 digits\)"),
    ],
)  # fmt: skip
def test_metric_log_names_the_bad_line(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"metrics\.jsonl" + message):
        MetricLog(path).read()


def test_metric_log_skips_a_torn_last_line_even_mid_character(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"step": 1}\n{"step": 2, "note": "caf\xc3')
    assert MetricLog(path).read() == [{"step": 1}]
    path.write_bytes(b'{"step": 1}\n{"step": 2, "note": "caf\xc3\n')  # complete line: an error
    with pytest.raises(DataError, match=r"metrics\.jsonl:2"):
        MetricLog(path).read()
    path.unlink()
    path.mkdir()
    with pytest.raises(DataError, match=r"metrics\.jsonl: cannot be read"):
        MetricLog(path).read()
