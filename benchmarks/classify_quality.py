"""Text-classification quality on ../shared/data: IMDB and AG News (skips what is absent).

Run: ``python benchmarks/classify_quality.py [--only NAME ...] [--minutes 15]``.

* best recipes (``imdb``, ``ag_news``): test accuracy and training wall time within
  ``--minutes`` (target: >= 88% each within 15 minutes on 2 CPU cores), GloVe 6B 50d
  embeddings, and the same recipe with random embeddings side by side (``*_random``).
* the seeds' recipes reproduced: IMDB stacked SimpleRNN 2x64, maxlen 80, 10,000 words
  (``imdb_seed``); AG News two bidirectional LSTM layers of 64 (``ag_news_seed``).

IMDB: the official 25,000 / 25,000 split (Maas et al. 2011). AG News: train.csv is a stratified
20,000-row subset of the 120,000 training rows, test.csv the full 7,600 (Zhang et al. 2015).
Every run holds out 10% of its training file for validation and model selection; the test
file is scored once, with the best checkpoint. Runs are written to benchmarks/runs/classify/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import SHARED_DATA, publish

from rnnkit.tasks.classification import (
    TRAINER_DEFAULTS,
    ClassifyDataConfig,
    train_classifier,
)
from rnnkit.train.trainer import TrainerConfig

RUNS = Path(__file__).resolve().parent / "runs" / "classify"
GLOVE = str(SHARED_DATA / "glove" / "glove.6B.50d.100k.txt.gz")
DATASETS = {  # ClassifyDataConfig fields, and the matching CLI flags
    "imdb": ({"train": "imdb/train.csv", "test": "imdb/test.csv"}, ""),
    "ag_news": (
        {"train": "ag_news/train.csv", "test": "ag_news/test.csv", "header": False,
         "label_col": "0", "text_cols": ["1", "2"], "classes": "ag_news/classes.txt"},
        "--no-header --label-col 0 --text-col 1 2 --classes classes.txt ",
    ),
}  # fmt: skip


@dataclass
class Recipe:
    """One benchmark run: a dataset, data/model options and the budget (None: --minutes)."""

    dataset: str  # imdb | ag_news
    data: dict[str, Any]  # ClassifyDataConfig fields beyond the files
    model: dict[str, Any]  # ClassifierConfig fields
    flags: str  # the same as `rnnkit train classify` flags
    epochs: int | None = None  # a fixed number of epochs instead of the minutes budget

    def data_config(self) -> ClassifyDataConfig:
        files, _ = DATASETS[self.dataset]
        paths = {k: str(SHARED_DATA / v) if k in ("train", "test", "classes") else v
                 for k, v in files.items()}  # fmt: skip
        return ClassifyDataConfig(**paths, **self.data)

    def command(self, minutes: float) -> str:
        budget = f"--epochs {self.epochs}" if self.epochs else f"--minutes {minutes:g}"
        return (f"rnnkit train classify --train train.csv --test test.csv "
                f"{DATASETS[self.dataset][1]}{self.flags} {budget}")  # fmt: skip


BEST = {"cell": "lstm", "hidden_size": 128, "pooling": "max"}  # + GloVe or random E=50
GLOVE_FLAGS = "--embeddings glove.6B.50d.100k.txt.gz --hidden 128"
RANDOM_FLAGS = "--embed 50 --hidden 128"
AG_EPOCHS = 15  # about 4 minutes; validation accuracy flattens after 5
RECIPES = {
    "imdb": Recipe("imdb", {"embeddings": GLOVE, "max_len": 400}, BEST,
                   f"{GLOVE_FLAGS} --max-len 400"),
    "imdb_random": Recipe("imdb", {"max_len": 400}, BEST | {"embedding_size": 50},
                          f"{RANDOM_FLAGS} --max-len 400"),
    "ag_news": Recipe("ag_news", {"embeddings": GLOVE, "max_len": 100}, BEST,
                      f"{GLOVE_FLAGS} --max-len 100", epochs=AG_EPOCHS),
    "ag_news_random": Recipe("ag_news", {"max_len": 100}, BEST | {"embedding_size": 50},
                             f"{RANDOM_FLAGS} --max-len 100", epochs=AG_EPOCHS),
    "imdb_seed": Recipe(
        "imdb", {"vocab_size": 10_000, "max_len": 80, "truncate": "pre", "batch_size": 32},
        {"cell": "rnn", "num_layers": 2, "hidden_size": 64, "embedding_size": 64,
         "pooling": "last", "dropout": 0.2, "embedding_dropout": 0.0},
        "--vocab-size 10000 --max-len 80 --truncate pre --batch-size 32 --cell rnn --layers 2 "
        "--hidden 64 --embed 64 --pooling last --dropout 0.2 --embedding-dropout 0", epochs=5,
    ),
    "ag_news_seed": Recipe(
        "ag_news", {"embeddings": GLOVE, "max_len": 100},
        {"cell": "lstm", "num_layers": 2, "hidden_size": 64, "bidirectional": True,
         "pooling": "last"},
        "--embeddings glove.6B.50d.100k.txt.gz --layers 2 --hidden 64 --bidirectional "
        "--pooling last --max-len 100", epochs=4,
    ),
}  # fmt: skip


def train(name: str, minutes: float) -> dict:
    """Train recipe ``name`` into benchmarks/runs/classify/<name>; return its figures."""
    recipe = RECIPES[name]
    out = RUNS / name
    if out.exists():
        shutil.rmtree(out)
    budget = {"epochs": recipe.epochs} if recipe.epochs else {"minutes": minutes}
    trainer = TrainerConfig(**(TRAINER_DEFAULTS | budget), progress=False)
    data = recipe.data_config()
    start = time.perf_counter()
    progress, report = train_classifier(out, data, recipe.model, trainer)
    total = time.perf_counter() - start
    assert report is not None
    val = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_rows = sum(1 for _ in data.read(data.train).texts) * (1 - data.val_fraction)
    return {
        "recipe": recipe.command(minutes), "test_accuracy": report.accuracy,
        "test_macro_f1": report.macro_f1, "test_n": sum(report.support),
        "best_val_accuracy": progress.best, "train_s": progress.elapsed, "total_s": total,
        "steps": progress.step, "epochs": progress.step * data.batch_size / train_rows,
        "validations": [r for r in val if "val_accuracy" in r],
        "config": json.loads((out / "config.json").read_text()),
    }  # fmt: skip


def table(results: dict[str, dict], minutes: float) -> str:
    rows = [
        "| run | embeddings | recipe | test accuracy | macro-F1 | training wall time | epochs | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        embeddings = "GloVe 6B 50d" if r["config"]["data"]["embeddings"] else "random"
        target = f"≥ 88% in {minutes:g} min" if name in ("imdb", "ag_news") else "—"
        rows.append(
            f"| {name} | {embeddings} | `{r['recipe']}` | **{r['test_accuracy']:.2%}** | "
            f"{r['test_macro_f1']:.4f} | {r['train_s'] / 60:.1f} min | {r['epochs']:.1f} | {target} |"
        )
    note = (
        "\nTest accuracy of the best checkpoint (by validation accuracy on 10% of the training "
        "file) on the full test file. IMDB: Maas et al. 2011, official 25k/25k split. AG News: "
        "Zhang, Zhao & LeCun 2015; trained on the 20,000-row subset (1/6 of the official training "
        "set), tested on all 7,600 test rows. GloVe: Pennington, Socher & Manning 2014."
    )
    return "\n".join(rows) + "\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), help="run only these recipes")
    parser.add_argument("--minutes", type=float, default=15.0, help="budget of the best recipes")
    args = parser.parse_args()
    if not (SHARED_DATA / "imdb").is_dir() or not (SHARED_DATA / "ag_news").is_dir():
        print(f"skipped: {SHARED_DATA} lacks imdb/ or ag_news/")
        return
    results_file = Path(__file__).resolve().parent / "results" / "classify_quality.json"
    old = json.loads(results_file.read_text()) if results_file.exists() else {}
    results = {k: v for k, v in old.get("runs", {}).items() if k in RECIPES}
    for name in args.only or RECIPES:
        print(f"=== {name}", flush=True)
        results[name] = train(name, args.minutes)
        print(f"=== {name}: test accuracy {results[name]['test_accuracy']:.4f} "
              f"in {results[name]['train_s']:.0f} s of training", flush=True)  # fmt: skip
    ordered = {k: results[k] for k in RECIPES if k in results}
    publish("classify_quality", "Text classification: IMDB and AG News (CPU)",
            {"minutes": args.minutes, "runs": ordered}, table(ordered, args.minutes))  # fmt: skip


if __name__ == "__main__":
    main()
