"""Checkpoints that agree with their manifest but not with themselves; pinning; debris."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.errors import CheckpointError, InvalidArgumentError
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.train.checkpoint import (
    PIN,
    build_model,
    load_checkpoint,
    manifest_sha256,
    save_checkpoint,
)
from rnnkit.train.run_dir import recover_interrupted_saves

MODEL = {"vocab_size": 5, "cell": "gru", "num_layers": 1, "hidden_size": 6, "embedding_size": 3,
         "dropout": 0.0, "tie_weights": False}  # fmt: skip


def save(path: Path, model_settings: dict | None = None, state: dict | None = None) -> Path:
    torch.manual_seed(0)
    weights = LanguageModel(LanguageModelConfig(**MODEL)).state_dict() if state is None else state
    return save_checkpoint(path, weights, {"task": "lm", "model": model_settings or MODEL}, None)


def rewrite_manifest(ckpt: Path) -> None:
    """What a tamperer does: make the manifest agree with the altered files again."""
    manifest = json.loads((ckpt / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (ckpt / name).read_bytes()
        entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    (ckpt / "manifest.json").write_text(json.dumps(manifest))


def test_round_trip_builds_the_model(tmp_path: Path) -> None:
    model = build_model(load_checkpoint(save(tmp_path / "c")), LanguageModelConfig, LanguageModel)
    torch.manual_seed(0)
    reference = LanguageModel(LanguageModelConfig(**MODEL))
    for key, tensor in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], tensor)


def test_loading_a_model_leaves_torch_dynamo_unimported(tmp_path: Path) -> None:
    """Laying the model out on the meta device must not run an embedding's normal_ there: its
    meta decomposition imports torch._dynamo, which cost every `rnnkit predict` about 1 s."""
    ckpt = save(tmp_path / "c")
    code = (
        "import sys; from rnnkit.train.checkpoint import build_model, load_checkpoint; "
        "from rnnkit.models.language_model import LanguageModel, LanguageModelConfig; "
        f"build_model(load_checkpoint({str(ckpt)!r}), LanguageModelConfig, LanguageModel); "
        "print('torch._dynamo' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({**MODEL, "hidden_size": 7}, r"rnn.weight_ih_l0 has shape \(18, 3\).*implies shape \(21, 3\)"),
        ({k: v for k, v in MODEL.items() if k != "embedding_size"}, r"lacks \[.*'embedding_size'\]"),
        ({**MODEL, "colour": "red"}, "unexpected keyword argument 'colour'"),
        ({**MODEL, "hidden_size": 100000}, r"hidden_size=100000: expected an int in \[1, 65536\]"),
        ({**MODEL, "cell": "lstm"}, "has shape"),
    ],
)
def test_inconsistent_config_is_a_checkpoint_error(tmp_path: Path, settings, message) -> None:
    ckpt = save(tmp_path / "c")
    config = json.loads((ckpt / "config.json").read_text())
    config["model"] = settings
    (ckpt / "config.json").write_text(json.dumps(config))
    rewrite_manifest(ckpt)
    with pytest.raises(CheckpointError, match=message):
        build_model(load_checkpoint(ckpt), LanguageModelConfig, LanguageModel)


def test_tensor_of_the_wrong_shape_or_missing_is_a_checkpoint_error(tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = LanguageModel(LanguageModelConfig(**MODEL)).state_dict()
    wrong = {**state, "decoder.bias": torch.zeros(4)}
    with pytest.raises(CheckpointError, match=r"decoder.bias has shape \(4,\)"):
        build_model(load_checkpoint(save(tmp_path / "a", state=wrong)), LanguageModelConfig, LanguageModel)
    missing = {k: v for k, v in state.items() if k != "decoder.bias"}
    with pytest.raises(CheckpointError, match=r"missing \['decoder.bias'\]"):
        build_model(load_checkpoint(save(tmp_path / "b", state=missing)), LanguageModelConfig, LanguageModel)


def test_pin_detects_a_rewritten_manifest(tmp_path: Path) -> None:
    ckpt = save(tmp_path / "c")
    pin = manifest_sha256(ckpt)
    assert (ckpt / PIN).read_text() == f"{pin}  manifest.json\n"
    assert subprocess.run(["sha256sum", "-c", PIN], cwd=ckpt, capture_output=True).returncode == 0
    assert load_checkpoint(ckpt, expect_sha256=pin.upper()).config["task"] == "lm"
    config = json.loads((ckpt / "config.json").read_text())
    config["task"] = "evil"
    (ckpt / "config.json").write_text(json.dumps(config))
    rewrite_manifest(ckpt)
    assert load_checkpoint(ckpt).config["task"] == "evil"  # the manifest alone cannot tell
    with pytest.raises(CheckpointError, match="expected the pinned expect_sha256="):
        load_checkpoint(ckpt, expect_sha256=pin)
    with pytest.raises(InvalidArgumentError, match="expect_sha256='abc': expected 64 hexadecimal"):
        load_checkpoint(ckpt, expect_sha256="abc")


def test_a_save_removes_killed_saves_debris_only(tmp_path: Path) -> None:
    save(tmp_path / "last")
    dead = tmp_path / ".last.tmp-99999999-dead"  # no such pid
    busy = tmp_path / f".best.tmp-{os.getppid()}-busy"  # a live process's save in progress
    dead.mkdir()
    busy.mkdir()
    save(tmp_path / "last")
    assert not dead.exists() and busy.exists()


def test_interrupted_swap_is_put_back(tmp_path: Path) -> None:
    ckpt = save(tmp_path / "last")
    old = tmp_path / ".last.old-123-abcd"
    ckpt.rename(old)
    assert recover_interrupted_saves(tmp_path) == [tmp_path / "last"]
    assert load_checkpoint(tmp_path / "last").config["task"] == "lm" and not old.exists()
