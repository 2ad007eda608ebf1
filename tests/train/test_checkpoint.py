"""Tests for rnnkit.train.checkpoint: atomic save, verified load, resume rules, RNG state."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.errors import CheckpointError, InvalidArgumentError
from rnnkit.train.checkpoint import (
    Checkpoint,
    capture_rng_state,
    is_checkpoint,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnkit.train.run_dir import check_output_dir

CONFIG = {"task": "lm", "model": {"cell": "lstm", "hidden_size": 8}, "train": {"lr": 0.01}}
VOCAB = {"itos": ["<pad>", "a", "b", "é"]}


class TiedLM(nn.Module):
    """A tiny language model whose output layer shares the embedding matrix."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(4, 3)
        self.rnn = nn.LSTM(3, 3, batch_first=True)
        self.head = nn.Linear(3, 4)
        self.head.weight = self.embedding.weight


def _save(path: Path, **kwargs) -> Path:
    torch.manual_seed(0)
    model = TiedLM()
    return save_checkpoint(path, model.state_dict(), CONFIG, VOCAB, **kwargs)


def test_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TiedLM()
    target = save_checkpoint(
        tmp_path / "ck", model.state_dict(), CONFIG, VOCAB, None, {"a.txt": "hi"}
    )
    ckpt = load_checkpoint(target)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.config == CONFIG and ckpt.vocab == VOCAB and ckpt.trainer_state is None
    assert ckpt.extra_files == ["a.txt"] and (target / "a.txt").read_text() == "hi"
    assert ckpt.state_dict.keys() == model.state_dict().keys()
    for name, value in model.state_dict().items():
        assert torch.equal(ckpt.state_dict[name], value), name
    manifest = json.loads((target / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.safetensors", "config.json", "vocab.json", "a.txt"}
    assert manifest["format_version"] == 1


def test_tied_weights_are_stored_once_and_retied(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TiedLM()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "ck", model.state_dict(), CONFIG, None))
    assert ckpt.vocab is None
    assert ckpt.state_dict["head.weight"] is ckpt.state_dict["embedding.weight"]
    fresh = TiedLM()
    fresh.load_state_dict(ckpt.state_dict)
    assert fresh.head.weight is fresh.embedding.weight
    assert torch.equal(fresh.head.weight, model.embedding.weight)


def test_untied_weights_are_written_with_one_metadata_key(tmp_path: Path) -> None:
    """safetensors writes its metadata map in an order that changes from process to process:
    with one key, the same weights give the same bytes (and manifest SHA-256) in every run."""
    from safetensors import safe_open

    torch.manual_seed(0)
    state = nn.Linear(3, 2).state_dict()
    directory = save_checkpoint(tmp_path / "ck", state, CONFIG, None)
    with safe_open(str(directory / "model.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "pt"}
    tied = save_checkpoint(tmp_path / "tied", TiedLM().state_dict(), CONFIG, None)
    with safe_open(str(tied / "model.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["rnnkit_aliases"])  # tied weights keep their aliases


def test_overlapping_views_and_noncontiguous_tensors_are_copied(tmp_path: Path) -> None:
    base = torch.arange(12.0).view(3, 4)
    state = {"t": base.t(), "row0": base[0], "row1": base[1], "full": base}
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "ck", state, CONFIG, VOCAB))
    for name, value in state.items():
        assert torch.equal(ckpt.state_dict[name], value), name


def test_refuses_non_tensor_and_bad_extra_names(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="state_dict"):
        save_checkpoint(tmp_path / "a", {"w": [1.0]}, CONFIG, VOCAB)  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError, match="extra_files"):
        save_checkpoint(tmp_path / "b", {}, CONFIG, VOCAB, extra_files={"../x": "no"})
    for bad in ("..", ".hidden", "config.json", "manifest.json"):
        with pytest.raises(InvalidArgumentError, match="extra_files"):
            save_checkpoint(tmp_path / "b", {}, CONFIG, VOCAB, extra_files={bad: "no"})
    with pytest.raises(InvalidArgumentError, match="config"):
        save_checkpoint(tmp_path / "c", {}, {"lr": float("nan")}, VOCAB)
    assert not any(tmp_path.iterdir())  # nothing left behind, not even temp dirs


def test_trainer_state_round_trip_weights_only(tmp_path: Path) -> None:
    model = TiedLM()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss = model.head(model.embedding(torch.tensor([1, 2]))).sum()
    loss.backward()
    opt.step()
    state = {
        "optimizer": opt.state_dict(),
        "step": 7,
        "epoch": 1,
        "best_metric": 1.25,
        "data_position": {"batch": 3},
        "rng": capture_rng_state(),
    }
    target = save_checkpoint(tmp_path / "ck", model.state_dict(), CONFIG, VOCAB, state)
    loaded = load_checkpoint(target).trainer_state
    assert loaded is not None
    assert loaded["step"] == 7 and loaded["best_metric"] == 1.25
    assert loaded["data_position"] == {"batch": 3}
    fresh = torch.optim.Adam(TiedLM().parameters(), lr=0.5)
    fresh.load_state_dict(loaded["optimizer"])
    assert fresh.param_groups[0]["lr"] == 0.01
    exp_avg = opt.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(loaded["optimizer"]["state"][0]["exp_avg"], exp_avg)


def test_trainer_state_refuses_what_weights_only_cannot_load(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="trainer_state"):
        _save(tmp_path / "ck", trainer_state={"best": np.float64(1.0)})
    assert not (tmp_path / "ck").exists()
    assert not list(tmp_path.glob(".ck.*"))


def test_rng_capture_restore_reproduces_draws(tmp_path: Path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    rng = capture_rng_state()
    first = (torch.rand(5), np.random.rand(5), [random.random() for _ in range(5)])
    np.random.randn()  # leaves a cached gaussian behind; restore must drop it
    target = _save(tmp_path / "ck", trainer_state={"rng": rng})  # _save reseeds torch too
    restore_rng_state(load_checkpoint(target).trainer_state["rng"])
    second = (torch.rand(5), np.random.rand(5), [random.random() for _ in range(5)])
    assert torch.equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])
    assert first[2] == second[2]


def test_flipped_byte_is_detected(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck")
    weights = target / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: SHA-256 mismatch"):
        load_checkpoint(target)
    load_checkpoint(target, verify=False)  # still parsable: only the hash catches it


def test_truncated_file_is_detected(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck")
    weights = target / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: 100 bytes"):
        load_checkpoint(target)
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(target, verify=False)


def test_altered_json_and_missing_files(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck")
    (target / "config.json").write_text('{"task": "lm", "model": {"hidden_size": 9}}')
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load_checkpoint(target)
    (target / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json: not valid JSON"):
        load_checkpoint(target, verify=False)
    (target / "vocab.json").unlink()
    with pytest.raises(CheckpointError, match=r"vocab\.json: missing"):
        load_checkpoint(target, verify=False)
    (target / "manifest.json").unlink()
    assert not is_checkpoint(target)
    with pytest.raises(CheckpointError, match=r"manifest\.json: missing"):
        load_checkpoint(target)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nowhere")


def test_corrupt_trainer_state_is_a_checkpoint_error(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck", trainer_state={"step": 1})
    (target / "trainer_state.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"trainer_state\.pt"):
        load_checkpoint(target, verify=False)


class _Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(_Exploit.marker),))


def test_never_unpickles_arbitrary_objects(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck", trainer_state={"step": 1})
    _Exploit.marker = str(tmp_path / "pwned")
    torch.save({"evil": _Exploit()}, target / "trainer_state.pt")
    manifest = json.loads((target / "manifest.json").read_text())  # forge a matching manifest
    manifest["files"]["trainer_state.pt"] = {
        "sha256": hashlib.sha256((target / "trainer_state.pt").read_bytes()).hexdigest(),
        "bytes": (target / "trainer_state.pt").stat().st_size,
    }
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(target)
    assert not (tmp_path / "pwned").exists()


def test_atomic_replace_keeps_a_loadable_checkpoint(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck", trainer_state={"step": 1})
    save_checkpoint(target, {"w": torch.ones(2)}, CONFIG, VOCAB, {"step": 2})
    ckpt = load_checkpoint(target)
    assert ckpt.trainer_state == {"step": 2} and list(ckpt.state_dict) == ["w"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temp or old dirs left


def test_save_fails_cleanly_and_keeps_the_old_checkpoint(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck", trainer_state={"step": 1})
    with pytest.raises(InvalidArgumentError):
        save_checkpoint(target, {"w": torch.ones(2)}, CONFIG, VOCAB, {"x": np.zeros(2)})
    assert load_checkpoint(target).trainer_state == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_crash_between_renames_recovers_the_old_checkpoint(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck", trainer_state={"step": 5})
    target.rename(tmp_path / ".ck.old-123-abcd")  # as if the process died mid-swap
    assert load_checkpoint(target).trainer_state == {"step": 5}
    save_checkpoint(target, {"w": torch.ones(1)}, CONFIG, VOCAB, {"step": 6})
    assert load_checkpoint(target).trainer_state == {"step": 6}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # the stale old one is gone


def test_failed_swap_puts_the_old_checkpoint_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _save(tmp_path / "ck", trainer_state={"step": 1})
    real_rename = Path.rename

    def rename(self: Path, dest: Path) -> Path:
        if ".tmp-" in self.name:  # the new checkpoint cannot be moved into place
            raise OSError("disk gone")
        return real_rename(self, dest)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="disk gone"):
        save_checkpoint(target, {"w": torch.ones(1)}, CONFIG, VOCAB, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(target).trainer_state == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_newer_or_foreign_manifest_is_refused(tmp_path: Path) -> None:
    target = _save(tmp_path / "ck")
    manifest = json.loads((target / "manifest.json").read_text())
    (target / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(CheckpointError, match="format_version=99"):
        load_checkpoint(target)
    (target / "manifest.json").write_text(json.dumps({**manifest, "format": "other"}))
    with pytest.raises(CheckpointError, match="not an rnnkit manifest"):
        load_checkpoint(target)
    del manifest["files"]["config.json"]
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=r"missing \['config\.json'\]"):
        load_checkpoint(target)


def test_save_refuses_to_overwrite_a_non_checkpoint(tmp_path: Path) -> None:
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not an rnnkit checkpoint"):
        _save(precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_cuda_checkpoint_loads_on_cpu(tmp_path: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    state = {"w": torch.randn(3, 2, device="cuda")}
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "ck", state, CONFIG, VOCAB))
    assert ckpt.state_dict["w"].device.type == "cpu"
    assert torch.equal(ckpt.state_dict["w"], state["w"].cpu())


def test_check_output_dir_rules(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert check_output_dir(out, CONFIG, resume=False) is False  # missing: fresh run
    out.mkdir()
    assert check_output_dir(out, CONFIG, resume=True) is False  # empty: fresh run
    (out / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError, match="holds no rnnkit checkpoint"):
        check_output_dir(out, CONFIG, resume=True)
    (out / "notes.txt").unlink()
    _save(out / "last")
    (out / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(CheckpointError, match="pass --resume"):
        check_output_dir(out, CONFIG, resume=False)
    assert check_output_dir(out, CONFIG, resume=True) is True
    assert check_output_dir(out / "last", CONFIG, resume=True) is True  # the checkpoint itself
    changed_training = {**CONFIG, "train": {"lr": 0.5}}
    assert check_output_dir(out, changed_training, resume=True) is True
    changed_model = {**CONFIG, "model": {"cell": "gru", "hidden_size": 8}}
    with pytest.raises(CheckpointError, match=r"model\.cell \(stored 'lstm', given 'gru'\)"):
        check_output_dir(out, changed_model, resume=True)
