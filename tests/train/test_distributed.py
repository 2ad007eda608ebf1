"""torchrun with 2 gloo processes on the CPU: the same weights as one process, one checkpoint,
exact resume, and refusal of per-rank run directories. Sharding helpers in one process."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.train import distributed
from rnnkit.train.checkpoint import load_checkpoint

SRC = str(Path(__file__).resolve().parents[2] / "src")
TEXT = "to be or not to be, that is the question; whether tis nobler in the mind.\n" * 30
LM_FLAGS = ["--level", "char", "--seq-len", "8", "--batch-size", "8", "--val-fraction", "0.1",
            "--cell", "lstm", "--layers", "2", "--hidden", "12", "--embed", "6", "--dropout", "0",
            "--schedule", "constant", "--warmup-steps", "0", "--eval-every", "3", "--seed", "3",
            "--ema-epochs", "0.5",  # the average, resumed across ranks too
            "--precision", "fp32", "--no-progress"]  # fmt: skip
# fp32 pinned: "auto" measures bf16 per thread count, and the ranks run 1 thread, pytest 2


def torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --nproc-per-node 2 --standalone -m rnnkit ARGS`` (gloo, one thread each)."""
    env = os.environ | {"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={nproc}", "-m", "rnnkit", *args]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "last").state_dict


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:  # gradients averaged over 2 ranks: equal up to summation order
        torch.testing.assert_close(wa[name], wb[name], atol=2e-6, rtol=1e-5, msg=name)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ddp") / "corpus.txt"
    path.write_text(TEXT)
    return path


@pytest.mark.slow
def test_lm_two_processes_equal_one_and_resume_exactly(corpus: Path, tmp_path: Path) -> None:
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    flags = ["train", "lm", "--corpus", str(corpus), *LM_FLAGS]
    assert main([*flags, "--steps", "6", "--out", str(single)]) == 0
    # Interrupted after 3 steps, resumed to 6 under torchrun: each rank's streams carry on.
    first = torchrun(*flags, "--steps", "3", "--out", str(ddp))
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = torchrun(*flags, "--steps", "6", "--out", str(ddp), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stderr.count("resuming ") == 1  # rank 0 alone logs it
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.iterdir())
    assert_same_weights(single, ddp)
    state = load_checkpoint(ddp / "last").trainer_state
    assert len(state["ranks"]) == 2 and state["progress"]["step"] == 6
    hidden = [r["task"]["hidden"][0] for r in state["ranks"]]  # (L, B/2, H) per rank
    assert hidden[0].shape == (2, 4, 12) and not torch.equal(hidden[0], hidden[1])
    lines = (ddp / "metrics.jsonl").read_text().splitlines()
    assert sum('"val_loss"' in line for line in lines) == 2  # one writer, steps 3 and 6


@pytest.mark.slow
def test_classifier_two_processes_equal_one(tmp_path: Path) -> None:
    rng = random.Random(0)
    cues = {"pos": "great", "neg": "dull"}
    rows = ["text,label"]
    for _ in range(101):  # 91 train: the last global batch holds 3 texts (shares 1 and 2)
        label = rng.choice(list(cues))
        words = [rng.choice(["the", "a", "film", "plot", "was"]) for _ in range(rng.randint(1, 7))]
        rows.append(f"{' '.join([*words, cues[label]])},{label}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    flags = ["train", "classify", "--train", str(tmp_path / "train.csv"), "--batch-size", "8",
             "--hidden", "8", "--embed", "6", "--dropout", "0", "--embedding-dropout", "0",
             "--epochs", "1", "--seed", "1", "--precision", "fp32", "--no-progress"]  # fmt: skip
    assert main([*flags, "--out", str(tmp_path / "single")]) == 0
    run = torchrun(*flags, "--out", str(tmp_path / "ddp"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert_same_weights(tmp_path / "single", tmp_path / "ddp")
    single = (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()[-1]
    ddp = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()[-1]
    assert single.split('"val_accuracy"')[1][:8] == ddp.split('"val_accuracy"')[1][:8]


@pytest.mark.slow
def test_out_directory_differing_between_ranks_is_one_line_exit_2(corpus: Path, tmp_path: Path):
    env = os.environ | {"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    script = (f"{sys.executable} -m rnnkit train lm --corpus {corpus} {' '.join(LM_FLAGS)} "
              f"--steps 2 --out {tmp_path}/run$LOCAL_RANK")  # fmt: skip
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", "--no-python", "sh", "-c", script]  # fmt: skip
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("rnnkit: error")]
    # Both ranks raise the same one line; torchrun may stop the second before it writes it.
    assert 1 <= len(errors) <= 2 and len(set(errors)) == 1
    assert "the same --out directory on every torchrun process" in errors[0]
    assert "rank 0 " in errors[0] and "/run0," in errors[0] and "rank 1 " in errors[0]
    assert not (tmp_path / "run0").exists() and not (tmp_path / "run1").exists()


def test_one_process_helpers_are_identities() -> None:
    assert distributed.context() == distributed.Context(0, 1, 0)
    assert distributed.shard([1, 2, 3]) == [1, 2, 3]
    assert distributed.row_slice(8) == slice(0, 8)
    assert distributed.loss_share(5) == 1.0
    assert distributed.weighted_mean(0.25, 10) == 0.25
    assert distributed.any_rank(False) is False
    assert distributed.all_gather({"a": 1}) == [{"a": 1}]
    before = torch.get_rng_state()
    distributed.seed_rank(0)  # rank 0 keeps a single process's generator
    assert torch.equal(torch.get_rng_state(), before)


def test_shards_cover_a_batch_once_in_order(monkeypatch) -> None:
    items = list(range(11))
    for world in (1, 2, 3, 4):
        parts = []
        for rank in range(world):
            monkeypatch.setattr(distributed, "context", lambda r=rank, w=world: distributed.Context(r, w, r))
            parts.append(distributed.shard(items))
        assert [x for part in parts for x in part] == items
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    monkeypatch.setattr(distributed, "context", lambda: distributed.Context(1, 4, 1))
    assert distributed.shard([1, 2, 3]) is None  # fewer items than ranks: everyone skips
    assert distributed.row_slice(8) == slice(2, 4)
    torch.manual_seed(0)
    distributed.seed_rank(0)  # rank 1: its own dropout stream, not rank 0's
    mask = torch.rand(8)
    torch.manual_seed(0)
    assert not torch.equal(mask, torch.rand(8))
    with pytest.raises(ValueError, match="batch_size=6: expected a multiple of the 4"):
        distributed.row_slice(6)
    with pytest.raises(ValueError, match="saved by 2 processes, this is 4"):
        distributed.pick_rank_state([{}, {}], "the streams")
