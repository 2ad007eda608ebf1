"""ONNX export: onnxruntime agrees with PyTorch (mixed lengths), the no-torch example, the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.errors import InvalidArgumentError
from rnnkit.export import (
    ClassifierGraph,
    LanguageModelGraph,
    export_classifier,
    export_language_model,
    metadata_path,
)
from rnnkit.models.classifier import ClassifierConfig, TextClassifier
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks.classification import ClassifyDataConfig, train_classifier
from rnnkit.tasks.classifier_inference import load_classifier
from rnnkit.train.trainer import TrainerConfig

ort = pytest.importorskip("onnxruntime")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "export.md"
GLOVE_PY = Path(__file__).resolve().parents[2] / "src" / "rnnkit" / "text" / "glove.py"


def run_onnx(path: Path, *inputs: torch.Tensor) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})


def mixed_batch(vocab: int, lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (B, T) with padding 0 after each length, lengths (B,)."""
    gen = torch.Generator().manual_seed(seed)
    lens = torch.tensor(lengths)
    ids = torch.randint(2, vocab, (len(lengths), max(lengths)), generator=gen)
    ids[torch.arange(ids.shape[1])[None, :] >= lens[:, None]] = 0
    return ids, lens


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "max", "max_mean", "attention"])
def test_classifier_matches_pytorch_on_mixed_lengths(
    tmp_path: Path, cell: str, bidirectional: bool, pooling: str
) -> None:
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=40, num_classes=3, cell=cell, num_layers=2,
                              hidden_size=8, embedding_size=6, bidirectional=bidirectional,
                              pooling=pooling)  # fmt: skip
    model = TextClassifier(config).eval()
    path = export_classifier(model, tmp_path / "m.onnx")
    ids, lengths = mixed_batch(40, [13, 1, 7, 4, 13, 2], seed=1)  # another B and T than traced
    (got,) = run_onnx(path, ids, lengths)
    with torch.no_grad():
        want = model.probabilities(model(ids, lengths)).numpy()  # the model itself, packed path
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    # Padding never changes a text's probabilities: the shortest text alone, unpadded.
    (alone,) = run_onnx(path, ids[1:2, :1], lengths[1:2])
    np.testing.assert_allclose(alone[0], got[1], atol=1e-5, rtol=0)


@pytest.mark.parametrize(("cell", "embedding_size"), [("lstm", 6), ("gru", 0), ("rnn", 6)])
def test_language_model_step_matches_pytorch(tmp_path: Path, cell: str, embedding_size: int) -> None:
    torch.manual_seed(0)
    config = LanguageModelConfig(vocab_size=25, cell=cell, num_layers=3, hidden_size=8,
                                 embedding_size=embedding_size)  # fmt: skip
    model = LanguageModel(config).eval()
    path = export_language_model(model, tmp_path / "lm.onnx")
    ids = torch.randint(0, 25, (4, 6))
    with torch.no_grad():
        logits, state = model(ids)  # the whole window at once ...
    zeros = torch.zeros(3, 4, 8)
    feed = [zeros, zeros] if cell == "lstm" else [zeros]
    for t in range(6):  # ... equals six one-token steps in onnxruntime, state fed back
        logits_t, *feed = (torch.from_numpy(a) for a in run_onnx(path, ids[:, t : t + 1], *feed))
        torch.testing.assert_close(logits_t[:, 0], logits[:, t], atol=1e-5, rtol=0)
    final = state if isinstance(state, tuple) else (state,)
    for got, want in zip(feed, final, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_torch_export_and_trace_keep_working() -> None:
    torch.manual_seed(0)
    clf = TextClassifier(ClassifierConfig(vocab_size=30, hidden_size=8, embedding_size=6,
                                          bidirectional=True)).eval()  # fmt: skip
    lm = LanguageModel(LanguageModelConfig(vocab_size=30, hidden_size=8, embedding_size=6)).eval()
    ids, lengths = mixed_batch(30, [5, 2, 4], seed=2)
    with torch.no_grad():
        want = clf(ids, lengths)
        exported = torch.export.export(ClassifierGraph(clf), (ids, lengths)).module()
        torch.testing.assert_close(exported(ids, lengths), clf.probabilities(want))
        traced = torch.jit.trace(clf, (ids, lengths), check_trace=False)
        torch.testing.assert_close(traced(ids, lengths), want)
        lm_exported = torch.export.export(lm, (ids,)).module()
        torch.testing.assert_close(lm_exported(ids)[0], lm(ids)[0])
        torch.testing.assert_close(torch.jit.trace(lm, (ids,))(ids)[0], lm(ids)[0])
        state = (torch.zeros(2, 3, 8), torch.zeros(2, 3, 8))
        graph = torch.export.export(LanguageModelGraph(lm), (ids, *state)).module()
        torch.testing.assert_close(graph(ids, *state)[0], lm(ids)[0])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny trained classifier run (words -> 2 classes)."""
    root = tmp_path_factory.mktemp("export")
    rows = ["text,label"] + [
        f'"{w} film, {"truly " * (i % 4)}{w}!",{lab}'
        for i in range(40)
        for w, lab in (("Great", "pos"), ("dull", "neg"))
    ]
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    data = ClassifyDataConfig(train=str(root / "train.csv"), batch_size=8, max_len=6)
    trainer = TrainerConfig(steps=8, progress=False, lr=0.05, warmup_steps=1)
    options = {"hidden_size": 8, "embedding_size": 6, "bidirectional": True}
    train_classifier(root / "run", data, options, trainer)
    return root / "run"


def documented_example(name: str) -> str:
    """The python program ``name`` (in its docstring) of docs/export.md."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return next(b for b in blocks if b.startswith(f'"""python {name}'))


def run_without_torch(tmp_path: Path, name: str, *args: str) -> str:
    """Run docs/export.md's program ``name`` where ``import torch`` fails; return its stdout."""
    script = tmp_path / name
    script.write_text(documented_example(name))
    shutil.copy(GLOVE_PY, tmp_path / "glove.py")  # as the docs say: beside the program
    blocker = tmp_path / "block"  # sitecustomize runs first: `import torch` then fails
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    env = {"PYTHONPATH": str(blocker), "PATH": "/usr/bin:/bin"}
    blocked = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, env=env)
    assert blocked.returncode != 0  # the shim really blocks torch
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                         env=env, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.slow
def test_docs_example_classifies_without_torch(run_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "clf.onnx"
    assert main(["export", str(run_dir), "--out", str(path)]) == 0
    assert metadata_path(path).is_file()
    text = "A TRULY great film; truly unknown-word!"
    clf = load_classifier(run_dir)
    meta = json.loads(metadata_path(path).read_text())
    for side in ("post", "pre", "middle"):  # the program cuts a long text as rnnkit does
        meta["max_len"] = clf.config["vectorizer"]["max_len"] = 4
        meta["truncate"] = clf.config["vectorizer"]["truncate"] = side
        metadata_path(path).write_text(json.dumps(meta))
        printed = run_without_torch(tmp_path, "classify_onnx.py", str(path), text)
        got = dict(line.split("\t") for line in printed.strip().splitlines())
        _, want = clf.predict([text])[0]
        assert got.keys() == want.keys()
        for label, p in want.items():
            assert abs(float(got[label]) - p) < 1e-4, side


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.slow
def test_cli_bad_input_exits_2_with_one_line(run_dir: Path, tmp_path: Path, capsys, monkeypatch):
    out = str(tmp_path / "m.onnx")
    assert main(["export", str(tmp_path / "missing"), "--out", out]) == 2
    assert "does not exist" in one_error_line(capsys)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{not json")
    assert main(["export", str(corrupt), "--out", out]) == 2
    assert "config.json" in one_error_line(capsys)
    assert main(["export", str(run_dir), "--out", str(tmp_path / "m.txt")]) == 2
    assert ".onnx" in one_error_line(capsys)
    with pytest.raises(SystemExit) as exc:
        main(["export", str(run_dir), "--format", "tflite", "--out", out])
    assert exc.value.code == 2
    assert "tflite" in one_error_line(capsys)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    assert main(["export", str(run_dir), "--out", out]) == 2
    assert 'pip install "rnnkit[onnx]"' in one_error_line(capsys)


@pytest.mark.slow
def test_language_model_run_exports_with_its_vocabulary(tmp_path: Path) -> None:
    from rnnkit.tasks.language_modeling import LMDataConfig, train_language_model
    from rnnkit.tasks.lm_inference import load_language_model

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("abcabd abcd\n" * 30)
    data = LMDataConfig(corpus=str(corpus), seq_len=6, batch_size=4)
    options = {"hidden_size": 8, "embedding_size": 4, "num_layers": 2, "cell": "gru"}
    train_language_model(tmp_path / "run", data, options, TrainerConfig(steps=2, progress=False))
    path = tmp_path / "lm.onnx"
    assert main(["export", str(tmp_path / "run"), "--out", str(path)]) == 0
    meta = json.loads(metadata_path(path).read_text())
    assert meta["task"] == "lm" and meta["state_shape"] == [2, 8] and meta["start_token"] == "\n"
    assert list(meta["inputs"]) == ["ids", "h"] and list(meta["outputs"]) == ["logits", "h_out"]
    vocab = meta["vectorizer"]["vocabulary"]
    index = {t: i for i, t in enumerate(vocab["specials"] + vocab["tokens"])}
    lm = load_language_model(tmp_path / "run")
    assert index == {t: lm.vectorizer.vocab.token_to_id(t) for t in index}
    ids, h = np.array([[index["a"]]]), np.zeros((2, 1, 8), np.float32)  # greedy, no torch
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    greedy = []
    for _ in range(8):
        logits, h = session.run(None, {"ids": ids, "h": h})
        ids = logits[:, -1].argmax(-1)[:, None]
        greedy.append(int(ids[0, 0]))
    state, x, want = None, torch.tensor([[index["a"]]]), []
    with torch.no_grad():
        for _ in range(8):
            logits_t, state = lm.model(x, state)
            x = logits_t[:, -1].argmax(-1, keepdim=True)
            want.append(int(x[0, 0]))
    assert greedy == want
    sampled = run_without_torch(tmp_path, "generate_onnx.py", str(path), "40")
    alphabet = set("".join(vocab["specials"] + vocab["tokens"]))  # <unk> may be drawn too
    assert len(sampled) >= 41 and set(sampled) <= alphabet  # 40 tokens and print's newline


def test_a_pin_beside_a_model_already_loaded_is_refused(tmp_path: Path) -> None:
    model = TextClassifier(ClassifierConfig(vocab_size=20, hidden_size=4, embedding_size=3))
    with pytest.raises(InvalidArgumentError, match=r"expect_sha256=.*None for a model already"):
        export_classifier(model, tmp_path / "m.onnx", expect_sha256="0" * 64)
    assert not (tmp_path / "m.onnx").exists()


def test_a_failed_export_leaves_the_earlier_files_whole(tmp_path: Path, monkeypatch) -> None:
    """The graph is written beside ``m.onnx`` and renamed over it once checked: an export that
    fails (here its onnxruntime check) keeps the earlier model and JSON, and leaves no debris."""
    import rnnkit.export

    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=20, num_classes=2, hidden_size=4, embedding_size=3)
    model = TextClassifier(config).eval()
    path = export_classifier(model, tmp_path / "m.onnx")
    before = path.read_bytes()
    metadata_path(path).write_text('{"earlier": true}\n')
    monkeypatch.setattr(rnnkit.export, "TOLERANCE", -1.0)  # every difference is too large
    with pytest.raises(InvalidArgumentError, match=r"m\.onnx: onnxruntime differs from PyTorch"):
        export_classifier(TextClassifier(config).eval(), path)
    assert path.read_bytes() == before
    assert metadata_path(path).read_text() == '{"earlier": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.onnx"]


def test_a_killed_exports_leftovers_go_at_the_next_export(tmp_path: Path) -> None:
    """A kill leaves ``.m.tmp-<pid>.onnx`` (and its JSON): the next export to m.onnx deletes
    those of processes that no longer run, and leaves a running one's alone."""
    import os

    pytest.importorskip("onnxruntime")
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    for name in (f".m.tmp-{dead}.onnx", f".m.tmp-{dead}.json", f".m.tmp-{os.getppid()}.onnx",
                 f".other.tmp-{dead}.onnx"):  # fmt: skip
        (tmp_path / name).write_text("partial")
    config = ClassifierConfig(vocab_size=20, num_classes=2, hidden_size=4, embedding_size=3)
    export_classifier(TextClassifier(config).eval(), tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".m.tmp-{os.getppid()}.onnx", f".other.tmp-{dead}.onnx", "m.onnx"
    ]
