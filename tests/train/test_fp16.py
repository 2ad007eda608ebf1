"""fp16 mixed precision: autocast + GradScaler on the CPU (no GPU here), scaler state resumed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.tasks.language_modeling import LMDataConfig, train_language_model
from rnnkit.train import device as device_module
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.device import resolve_precision
from rnnkit.train.trainer import TrainerConfig

TEXT = "the cat sat on the mat and the dog sat on the log.\n" * 20


def test_fp16_is_chosen_explicitly_and_by_auto_on_a_gpu_without_bf16(monkeypatch) -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("fp16", cpu) == torch.float16
    monkeypatch.setattr(device_module.precision, "bf16_training_faster", lambda: False)
    assert resolve_precision("auto", cpu) == torch.float32  # where bf16 measures no faster
    monkeypatch.setattr(device_module.precision, "bf16_training_faster", lambda: True)
    assert resolve_precision("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(device_module.torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_precision("auto", gpu) == torch.float16  # V100, T4
    monkeypatch.setattr(device_module.torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision("auto", gpu) == torch.bfloat16


def train(out: Path, corpus: Path, steps: int, resume: bool = False) -> dict:
    data = LMDataConfig(corpus=str(corpus), seq_len=8, batch_size=4)
    options = {"hidden_size": 16, "embedding_size": 8, "num_layers": 1, "dropout": 0.0}
    config = TrainerConfig(steps=steps, eval_every=3, precision="fp16", schedule="constant",
                           warmup_steps=0, progress=False)  # fmt: skip
    train_language_model(out, data, options, config, resume=resume)
    return load_checkpoint(out / "last").trainer_state


@pytest.mark.slow
def test_fp16_trains_with_a_grad_scaler_and_resumes_its_state(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    state = train(tmp_path / "run", corpus, steps=3)
    scaler = state["scaler"]
    assert scaler["scale"] == 2.0**16 and scaler["_growth_tracker"] == 3  # 3 finite steps
    state = train(tmp_path / "run", corpus, steps=6, resume=True)
    assert state["scaler"]["_growth_tracker"] == 6  # restored, then 3 more (fresh would say 3)
    straight = train(tmp_path / "straight", corpus, steps=6)
    assert straight["scaler"] == state["scaler"]
    resumed = load_checkpoint(tmp_path / "run" / "last").state_dict
    for name, value in load_checkpoint(tmp_path / "straight" / "last").state_dict.items():
        torch.testing.assert_close(resumed[name], value, atol=0, rtol=0, msg=name)
        assert value.dtype == torch.float32  # master weights stay fp32
