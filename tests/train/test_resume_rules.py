"""--resume compares settings by meaning, refuses the fixed ones, records the free ones."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from rnnkit.cli.main import main

TEXT = "to be or not to be, that is the question.\n" * 40


def train(corpus: str, out: Path, *extra: str) -> tuple[int, str]:
    argv = ["train", "lm", "--corpus", corpus, "--hidden", "8", "--layers", "1", "--embed", "4",
            "--seq-len", "8", "--batch-size", "4", "--eval-every", "3", "--out", str(out),
            "--no-progress", *extra]  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(argv)
    return code, printed.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("resume")
    (root / "corpus.txt").write_text(TEXT)
    assert train(str(root / "corpus.txt"), root / "run", "--steps", "6")[0] == 0
    return root, root / "run"


@pytest.fixture
def copy(run, tmp_path: Path) -> Path:
    shutil.copytree(run[1], tmp_path / "run")
    return tmp_path / "run"


def test_the_same_file_by_a_relative_path_is_the_same(run, copy, monkeypatch, caplog) -> None:
    monkeypatch.chdir(run[0])
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        code, _ = train("corpus.txt", copy, "--steps", "9", "--resume")
    assert code == 0 and "resuming" in caplog.text and "at step 6" in caplog.text


@pytest.mark.parametrize(
    ("flags", "key"),
    [(["--lr", "0.01"], "trainer.lr"), (["--seed", "3"], "trainer.seed"),
     (["--hidden", "16"], "model.hidden_size"), (["--seq-len", "4"], "data.seq_len"),
     (["--warmup-steps", "7"], "trainer.warmup_steps")],
)  # fmt: skip
def test_a_changed_fixed_setting_is_refused_by_name(run, copy, capsys, flags, key) -> None:
    before = (copy / "config.json").read_text()
    code, _ = train(str(run[0] / "corpus.txt"), copy, "--steps", "9", "--resume", *flags)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"{key} (stored" in err[0]
    assert (copy / "config.json").read_text() == before  # nothing overwritten


def test_a_changed_budget_is_applied_logged_and_recorded(run, copy, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        code, _ = train(str(run[0] / "corpus.txt"), copy, "--steps", "9", "--eval-every", "9", "--resume")
    assert code == 0
    assert "trainer.steps changed from 6 to 9" in caplog.text
    config = json.loads((copy / "config.json").read_text())
    assert config["trainer"]["steps"] == 9
    assert config["resumed"] == [{"step": 6, "changed": {"steps": [6, 9], "eval_every": [3, 9]}}]


def test_what_auto_precision_became_is_recorded_and_a_change_resumes(run, copy, caplog) -> None:
    first = json.loads((run[1] / "config.json").read_text())["resolved"]
    assert first["device"] == "cpu" and first["precision"] in ("fp32", "bf16")
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        code, _ = train(str(run[0] / "corpus.txt"), copy, "--steps", "9", "--precision", "fp32",
                        "--resume")  # fmt: skip
    assert code == 0 and "training on cpu in fp32 (precision fp32)" in caplog.text
    config = json.loads((copy / "config.json").read_text())
    assert config["resolved"] == {"device": "cpu", "precision": "fp32"}
    assert config["resumed"][0]["changed"]["precision"] == ["auto", "fp32"]


def test_metrics_after_the_checkpoint_are_dropped_on_resume(run, copy) -> None:
    log = copy / "metrics.jsonl"
    log.write_text(log.read_text() + '{"step": 7, "epoch": 0, "val_loss": 9.0}\n{"step": 8, "ep')
    assert train(str(run[0] / "corpus.txt"), copy, "--steps", "9", "--resume")[0] == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records if "val_loss" in r] == [3, 6, 9]


def test_a_run_without_a_checkpoint_restarts_under_resume_only(run, copy, capsys) -> None:
    shutil.rmtree(copy / "best")
    shutil.rmtree(copy / "last")
    corpus = str(run[0] / "corpus.txt")
    assert train(corpus, copy, "--steps", "6")[0] == 2
    assert "pass --resume" in capsys.readouterr().err
    code, _ = train(corpus, copy, "--steps", "6", "--resume")
    assert code == 0 and "resuming" not in capsys.readouterr().err
    assert (copy / "last" / "manifest.json").is_file()


def test_resume_without_last_says_it_starts_afresh_and_replaces_best(run, copy, caplog) -> None:
    shutil.rmtree(copy / "last")  # a run killed between best/ and last/, or last/ deleted
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        code, _ = train(str(run[0] / "corpus.txt"), copy, "--steps", "6", "--resume")
    assert code == 0
    assert "no last/ checkpoint to continue from (best/ is there)" in caplog.text
    assert (copy / "last" / "manifest.json").is_file()


@pytest.mark.parametrize(
    "alter",
    [
        lambda s: s["progress"].update(step="six"),
        lambda s: s["progress"].update(colour=1),
        lambda s: s.pop("rng"),
        lambda s: s["rng"].update(torch=s["rng"]["torch"][:10]),
        lambda s: [m.update(exp_avg=m["exp_avg"][:1]) for m in s["optimizer"]["state"].values()],
        lambda s: s.update(scaler={"scale": float("nan"), "growth_factor": 2.0}),  # fp16's
        lambda s: s.update(scaler={"growth_factor": 2.0}),
    ],
)
def test_an_inconsistent_trainer_state_is_one_checkpoint_error(run, copy, capsys, alter) -> None:
    rewrite_state(copy, alter)
    code, _ = train(str(run[0] / "corpus.txt"), copy, "--steps", "9", "--resume")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"{copy / 'last'}: inconsistent" in err[0], err


def test_a_state_saved_by_another_number_of_processes_is_refused(run, copy, capsys) -> None:
    rewrite_state(copy, lambda s: s.update(ranks=[{"rng": s["rng"], "task": s["task"]}] * 2))
    code, _ = train(str(run[0] / "corpus.txt"), copy, "--steps", "9", "--resume")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "saved by 2 processes, this is 1" in err[0], err


def test_another_rnnkit_version_resumes_and_is_recorded(run, copy, capsys) -> None:
    stored = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps(stored | {"rnnkit_version": "0.0.1"}))
    assert train(str(run[0] / "corpus.txt"), copy, "--steps", "9", "--resume")[0] == 0
    resumed = json.loads((copy / "config.json").read_text())["resumed"]
    assert resumed[-1]["changed"]["rnnkit_version"][0] == "0.0.1"
    assert "rnnkit_version changed from '0.0.1'" in capsys.readouterr().err


def rewrite_state(copy: Path, alter) -> None:
    """Alter last/trainer_state.pt and its manifest entry (so that only the content is off)."""
    import hashlib

    import torch

    state_file = copy / "last" / "trainer_state.pt"
    state = torch.load(state_file, weights_only=True)
    alter(state)
    torch.save(state, state_file)
    manifest = json.loads((copy / "last" / "manifest.json").read_text())
    data = state_file.read_bytes()
    manifest["files"]["trainer_state.pt"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (copy / "last" / "manifest.json").write_text(json.dumps(manifest))


def test_a_setting_newer_than_the_stored_run_is_named_as_absent(run, copy, capsys) -> None:
    for config in [copy / "config.json", *copy.glob("*/config.json")]:
        stored = json.loads(config.read_text())
        del stored["model"]["dropout"]  # as if saved before rnnkit had the setting
        config.write_text(json.dumps(stored))
    code, _ = train(str(run[0] / "corpus.txt"), copy, "--steps", "9", "--resume")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "model.dropout (absent from the stored run: saved before rnnkit had it; given" in err[0]


def test_a_second_run_on_an_out_in_use_is_refused(run, copy, capsys) -> None:
    """Two runs started together on one --out wrote into each other's files; the second is
    now refused, naming the first's pid, and the run can be resumed once the first ends."""
    from rnnkit.train.run_dir import LOCK, exclusive

    with exclusive(copy):  # as a running job holds it
        code, _ = train(str(run[0] / "corpus.txt"), copy, "--steps", "8", "--resume")
        assert code == 2
        assert f"another rnnkit run (pid {os.getpid()}) is writing to it" in capsys.readouterr().err
    assert train(str(run[0] / "corpus.txt"), copy, "--steps", "8", "--resume")[0] == 0
    fresh = run[0] / "fresh_out"
    with exclusive(fresh):
        pass  # a directory that holds only the lock file is empty to a new run
    assert (fresh / LOCK).is_file()
    assert train(str(run[0] / "corpus.txt"), fresh, "--steps", "2")[0] == 0
