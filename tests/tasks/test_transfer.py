"""Transfer from a word-level language model (ULMFiT): the LM on a classifier's CSV, the exact
copy of its weights, the refusals, discriminative learning rates, gradual unfreezing, resume."""

from __future__ import annotations

import csv
import gzip
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.vectors import load_bundled_vectors
from rnnkit.errors import CheckpointError, InvalidArgumentError
from rnnkit.tasks.classification import (
    ClassifierTrainerConfig,
    ClassifyDataConfig,
    train_classifier,
)
from rnnkit.tasks.language_modeling import (
    LMDataConfig,
    LMTrainerConfig,
    build_vectorizer,
    encode_corpus,
    read_corpus,
    train_language_model,
)
from rnnkit.tasks.lm_inference import load_language_model
from rnnkit.train.callbacks import Callback
from rnnkit.train.checkpoint import load_checkpoint

POSITIVE, NEGATIVE = ["good", "great", "superb", "wonderful"], ["bad", "awful", "dull", "boring"]
FILLER = ["the", "movie", "was", "and", "it", "is", "a", "plot", "actors", "film", "story"]


def reviews(n: int, seed: int) -> list[tuple[str, str]]:
    """(text, label) rows whose label is told by one cue word; texts hold GloVe clitics."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 10))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if i % 2 else NEGATIVE))
        rows.append((" ".join(words) + " - it doesn't\nend", label))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


QUIET = {"progress": False, "warmup_steps": 0, "log_every": 1000}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A labelled CSV and two language models trained on its texts (glove and whitespace)."""
    root = tmp_path_factory.mktemp("transfer")
    train = write_csv(root / "train.csv", reviews(64, 0))
    runs = {"train": train}
    # max_tokens 14 leaves some words out of the LM (they keep the classifier's own init)
    for name, tokenizer in (("lm", "glove"), ("lm_whitespace", "whitespace")):
        data = LMDataConfig(corpus=str(train), level="word", tokenizer=tokenizer, max_tokens=14,
                            seq_len=8, batch_size=4, embeddings="default" if tokenizer == "glove" else None)  # fmt: skip
        model = {"num_layers": 2, "hidden_size": 12}
        train_language_model(root / name, data, model, LMTrainerConfig(steps=3, **QUIET), verbose=0)
        runs[name] = root / name
    return runs


def clf_data(world: dict[str, Path], **options) -> ClassifyDataConfig:
    base = {"train": str(world["train"]), "encoder_from": str(world["lm"]), "batch_size": 16, "max_len": 20}
    return ClassifyDataConfig(**base | options)


class Recorder(Callback):
    """Per epoch: each optimizer group's (lr_scale, lr, trainable); and the weights at the start."""

    def __init__(self) -> None:
        self.groups: dict[int, list[tuple[float, float, bool]]] = {}
        self.start: dict[str, torch.Tensor] = {}
        self.after_first_epoch: dict[str, torch.Tensor] = {}

    def on_train_begin(self, trainer) -> None:
        self.start = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}

    def on_step_end(self, trainer, step: int, logs: dict[str, float]) -> None:
        epoch = int(logs["epoch"])
        if epoch not in self.groups:
            self.groups[epoch] = [
                (g["lr_scale"], g["lr"], all(p.requires_grad for p in g["params"]))
                for g in trainer.optimizer.param_groups
            ]
        if epoch == 0:
            self.after_first_epoch = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def test_lm_reads_a_csv_corpus_one_text_per_line(world, tmp_path: Path) -> None:
    rows = reviews(5, 1)
    data = LMDataConfig(corpus="x", level="word", tokenizer="glove")
    text = read_corpus(str(world["train"]), data)
    assert text.count("\n") == 64 - 1  # one line per review, the review's own newline a space
    gz = tmp_path / "texts.jsonl.gz"
    gz.write_bytes(gzip.compress("".join(json.dumps({"body": t}) + "\n" for t, _ in rows).encode()))
    lines = read_corpus(str(gz), LMDataConfig(text_cols=["body"])).split("\n")
    assert lines == [" ".join(t.splitlines()) for t, _ in rows]
    vectorizer = build_vectorizer(text, data)
    ids = encode_corpus(text, vectorizer)
    assert (ids == vectorizer.vocab.eos_id).sum().item() == 64  # <eos> after each text
    assert "n't" in vectorizer.vocab and "doesn't" not in vectorizer.vocab  # GloVe's tokens
    no_header = tmp_path / "plain.tsv"
    no_header.write_text("a fine film\tpos\ndull\tneg\n")
    assert read_corpus(str(no_header), LMDataConfig(header=False)) == "a fine film pos\ndull neg"


def test_lm_embedding_starts_from_glove_and_evaluates_a_csv(world, capsys) -> None:
    lm = load_language_model(world["lm"], "cpu")
    assert lm.model.config.embedding_size == 50 and lm.config["data"]["tokenizer"] == "glove"
    assert main(["evaluate", str(world["lm"]), "--data", str(world["train"]), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    text = read_corpus(str(world["train"]), LMDataConfig())
    assert scored["tokens"] == len(encode_corpus(text, lm.vectorizer))  # the text column only


def test_encoder_from_copies_the_language_model_exactly(world, tmp_path: Path) -> None:
    recorder = Recorder()
    train_classifier(tmp_path / "clf", clf_data(world), trainer=ClassifierTrainerConfig(
        steps=1, **QUIET), callbacks=[recorder], verbose=0)  # fmt: skip
    lm = load_language_model(world["lm"], "cpu")
    config = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert {k: config["model"][k] for k in ("cell", "num_layers", "hidden_size", "embedding_size",
            "bidirectional")} == {"cell": "lstm", "num_layers": 2, "hidden_size": 12,
                                  "embedding_size": 50, "bidirectional": False}  # fmt: skip
    assert all(g[0] == 1.0 and g[2] for g in recorder.groups[0])  # default: no ULMFiT schedule
    start = recorder.start
    for name, tensor in lm.model.rnn.state_dict().items():
        assert torch.equal(start[f"rnn.{name}"], tensor), name
    ours = list(load_checkpoint(tmp_path / "clf" / "best").vocab["vocabulary"]["tokens"])
    ours = ["<pad>", "<unk>", *ours]
    theirs = lm.vectorizer.vocab
    mapped = [(i, t) for i, t in enumerate(ours) if i > 0 and t in theirs]
    assert len(mapped) >= 10
    for i, token in mapped:  # <unk> included: it maps to the LM's <unk>
        assert torch.equal(start["embedding.weight"][i], lm.model.embedding.weight[theirs.token_to_id(token)]), token
    assert not start["embedding.weight"][0].any()  # <pad> stays zero
    glove = load_bundled_vectors()
    missing = [(i, t) for i, t in enumerate(ours) if t not in theirs and t in glove]
    assert missing  # the LM's 14-token cap left these out: initialised as without transfer
    for i, token in missing:
        np.testing.assert_array_equal(start["embedding.weight"][i].numpy(), glove[token])


def test_discriminative_lrs_and_gradual_unfreezing_follow_the_config(world, tmp_path: Path) -> None:
    recorder, ulmfit = Recorder(), {"discriminative_lr": 2.6, "gradual_unfreezing": True}
    train_classifier(tmp_path / "clf", clf_data(world), ulmfit, ClassifierTrainerConfig(
        epochs=5, schedule="constant", patience=0, **QUIET), callbacks=[recorder], verbose=0)  # fmt: skip
    # groups bottom to top: embedding, layer 0, layer 1, head; lr / 2.6 per group down
    scales = [2.6**-3, 2.6**-2, 2.6**-1, 1.0]
    for epoch, groups in recorder.groups.items():
        assert [g[0] for g in groups] == pytest.approx(scales)
        assert [g[1] for g in groups] == pytest.approx([3e-3 * s for s in scales])
        trainable = [g[2] for g in groups]
        assert trainable == [k >= 3 - epoch for k in range(4)], (epoch, trainable)
    assert sorted(recorder.groups) == [0, 1, 2, 3, 4]
    before, after = recorder.start, recorder.after_first_epoch  # epoch 0: the head alone moved
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"head.weight", "head.bias", "ngram_bag.vectors.weight"}  # bag: in the head


def test_schedule_options_and_freeze_embeddings(world, tmp_path: Path) -> None:
    recorder = Recorder()
    model = {"discriminative_lr": 2.0, "gradual_unfreezing": False, "freeze_embeddings": True}
    train_classifier(tmp_path / "clf", clf_data(world), model, ClassifierTrainerConfig(
        epochs=2, **QUIET), callbacks=[recorder], verbose=0)  # fmt: skip
    for groups in recorder.groups.values():  # no embedding group; everything else trains
        assert [(g[0], g[2]) for g in groups] == [(0.25, True), (0.5, True), (1.0, True)]


def test_resume_continues_the_unfreezing_schedule_exactly(world, tmp_path: Path) -> None:
    data, options = clf_data(world), {"schedule": "constant", "patience": 0, **QUIET}
    ulmfit = {"discriminative_lr": 2.6, "gradual_unfreezing": True}
    train_classifier(tmp_path / "straight", data, ulmfit, ClassifierTrainerConfig(epochs=3, **options), verbose=0)
    train_classifier(tmp_path / "cut", data, ulmfit, ClassifierTrainerConfig(epochs=1, **options), verbose=0)
    train_classifier(tmp_path / "cut", data, ulmfit, ClassifierTrainerConfig(epochs=3, **options),
                     resume=True, verbose=0)  # fmt: skip
    a = load_checkpoint(tmp_path / "straight" / "last").state_dict
    b = load_checkpoint(tmp_path / "cut" / "last").state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(Exception, match="encoder_from"):  # the encoder source is part of the run
        other = clf_data(world, encoder_from=str(world["lm_whitespace"]), standardize="none")
        train_classifier(tmp_path / "cut", other, ulmfit, ClassifierTrainerConfig(epochs=4, **options),
                         resume=True, verbose=0)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"data": {"encoder_from": "{lm_whitespace}"}}, InvalidArgumentError, "--tokenizer glove"),
        ({"model": {"bidirectional": True}}, InvalidArgumentError, "bidirectional=True"),
        ({"model": {"hidden_size": 64}}, InvalidArgumentError, "hidden_size=64: expected 12"),
        ({"model": {"cell": "gru"}}, InvalidArgumentError, "cell='gru'"),
        ({"data": {"encoder_from": "{missing}"}}, CheckpointError, "encoder_from: .*does not exist"),
        ({"data": {"encoder_from": "{char}"}}, InvalidArgumentError, "word-level language model"),
        ({"data": {"encoder_from": "{corrupt}"}}, CheckpointError, "encoder_from: .*SHA-256 mismatch"),
    ],
)
def test_incompatible_encoders_are_refused(world, tmp_path: Path, change, error, message) -> None:
    corrupt = tmp_path / "corrupt"
    shutil.copytree(world["lm"], corrupt)
    weights = corrupt / "best" / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 1
    weights.write_bytes(bytes(raw))
    char = tmp_path / "char"
    train_language_model(char, LMDataConfig(corpus=str(world["train"]), seq_len=8, batch_size=4),
                         {"hidden_size": 8, "num_layers": 1}, LMTrainerConfig(steps=1, **QUIET), verbose=0)  # fmt: skip
    names = {"lm_whitespace": world["lm_whitespace"], "missing": tmp_path / "nope", "char": char,
             "corrupt": corrupt}  # fmt: skip
    data = {k: str(v).format(**{n: str(p) for n, p in names.items()}) for k, v in change.get("data", {}).items()}
    with pytest.raises(error, match=message):
        train_classifier(tmp_path / "clf", clf_data(world, **data), change.get("model"),
                         ClassifierTrainerConfig(steps=1, **QUIET), verbose=0)  # fmt: skip
    assert not (tmp_path / "clf" / "config.json").exists()


def test_python_api_encoder_from(world) -> None:
    rows = reviews(64, 0)
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    clf = rnnkit.TextClassifier(encoder_from=str(world["lm"]), max_len=20, batch_size=16,
                                epochs=2)  # fmt: skip
    assert clf.get_params()["encoder_from"] == str(world["lm"])
    clf.fit(texts, labels, verbose=0)
    assert clf.fitted_.model.config.hidden_size == 12 and clf.fitted_.model.config.num_layers == 2
    assert set(clf.predict(texts[:4])) <= {"pos", "neg"}
