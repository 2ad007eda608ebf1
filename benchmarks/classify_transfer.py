"""IMDB with transfer from a language model (ULMFiT) against the same classifier without it.

Run: ``python benchmarks/classify_transfer.py`` (at most about 57 minutes on 2 cores, 31 on
2026-12-04: the language model 14 minutes, the classifier with ``--encoder-from`` at most 12,
together with reading, tokenising and testing within 30 minutes; then the same transfer with
the ULMFiT schedule (``--discriminative-lr 2.6 --gradual-unfreezing``) and the same
classifier without transfer, at most 12 minutes each). ``--subset N`` runs on N training and N test reviews (a check of the
pipeline, not published); ``--lm-minutes`` / ``--clf-minutes`` set the caps;
``--no-comparisons`` skips the two comparison runs.

The four runs, as commands (paths relative to ../shared/data)::

    rnnkit train lm --corpus imdb/train.csv --text-col text --level word --tokenizer glove \\
        --embeddings default --max-tokens 10000 --layers 1 --hidden 128 --val-fraction 0.02 \\
        --minutes 14 --out runs/imdb_lm
    rnnkit train classify --train imdb/train.csv --test imdb/test.csv \\
        --encoder-from runs/imdb_lm --minutes 12 --out runs/imdb_transfer
    rnnkit train classify --train imdb/train.csv --test imdb/test.csv --encoder-from runs/imdb_lm \\
        --discriminative-lr 2.6 --gradual-unfreezing --minutes 12 --out runs/imdb_ulmfit
    rnnkit train classify --train imdb/train.csv --test imdb/test.csv \\
        --cell lstm --layers 1 --hidden 128 --no-bidirectional --minutes 12 --out runs/imdb_baseline

Why this language model: its cost is the output softmax over the vocabulary (for a vocabulary
of 20,000, 50 x 20,000 multiply-adds per token against 4 x 128 x 178 for the LSTM). Measured on
2 shared cores, one torch thread, batches of 64 x 70 (forward, backward, AdamW): vocabulary
20,000 and LSTM 256 projected to 50 with tied weights 2,100-2,300 tokens/s; vocabulary 10,000:
the same model 4,000-4,600, a 128-unit LSTM with its own output layer 3,600, 192 units 3,000;
vocabulary 30,000: 1,500. The 10,000 most frequent GloVe tokens cover 95.4% of IMDB's training
words (20,000: 98.0%), so the cap halves the cost for 2.6% more <unk>; rows of the
classifier's other words start from GloVe. One 128-unit layer keeps the classifier's stack
the default one (the baseline is then rnnkit's default classifier) and fast: an IMDB epoch
takes 1.9 minutes against 3.4 for the projected 256-unit LSTM. IMDB's training texts are 6.8
million tokens; 14 minutes cover about half to one pass of them. The language model gets the
larger share because the transfer is only as good as it is (see the notes in RESULTS.md, kept there under the section's notes marker).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from common import SHARED_DATA, publish

from rnnkit.config import with_budget
from rnnkit.data.readers import read_labelled
from rnnkit.tasks.classification import (
    ClassifierTrainerConfig,
    ClassifyDataConfig,
    train_classifier,
)
from rnnkit.tasks.language_modeling import LMDataConfig, LMTrainerConfig, train_language_model
from rnnkit.train.metrics import MetricLog

RUNS = Path(__file__).resolve().parent / "runs" / "transfer"
LM_DATA = {"level": "word", "tokenizer": "glove", "embeddings": "default", "max_tokens": 10_000,
           "val_fraction": 0.02, "text_cols": ["text"]}  # fmt: skip
LM_MODEL = {"num_layers": 1, "hidden_size": 128, "embedding_size": 50}
BASELINE = {"cell": "lstm", "num_layers": 1, "hidden_size": 128, "bidirectional": False}
ULMFIT = {"discriminative_lr": 2.6, "gradual_unfreezing": True}


def subset(source: Path, n: int, out: Path) -> Path:
    """The first ``n`` of ``source``'s rows after a seeded shuffle, as a text,label CSV."""
    data = read_labelled(source)
    rows = random.Random(0).sample(list(zip(data.texts, data.labels, strict=True)), n)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *rows])
    return out


def lm_run(train: Path, minutes: float) -> dict[str, Any]:
    out = RUNS / "lm"
    data = LMDataConfig(corpus=str(train), **LM_DATA)
    trainer = with_budget(LMTrainerConfig, {"progress": False}, {"minutes": minutes})
    start = time.perf_counter()
    progress = train_language_model(out, data, dict(LM_MODEL), trainer)
    tokens = progress.step * data.batch_size * data.seq_len
    return {"val_loss": progress.best, "val_ppl": float(torch.tensor(progress.best).exp()),
            "steps": progress.step, "tokens": tokens, "train_s": progress.elapsed,
            "tokens_per_s": tokens / max(progress.elapsed, 1e-9),
            "total_s": time.perf_counter() - start, "out": str(out)}  # fmt: skip


def clf_run(name: str, train: Path, test: Path, minutes: float, **options: Any) -> dict[str, Any]:
    """Train the classifier ``name`` (``options``: "data" / "model" overrides); its figures."""
    out = RUNS / name
    data = ClassifyDataConfig(train=str(train), test=str(test), **options.get("data", {}))
    trainer = with_budget(ClassifierTrainerConfig, {"progress": False}, {"minutes": minutes})
    start = time.perf_counter()
    progress, report = train_classifier(out, data, dict(options.get("model", {})), trainer)
    assert report is not None
    records = MetricLog(out / "metrics.jsonl").read()
    val = [r for r in records if "val_accuracy" in r]
    return {"test_accuracy": report.accuracy, "test_macro_f1": report.macro_f1,
            "best_val_accuracy": progress.best, "validations": len(val),
            "best_epoch": max(val, key=lambda r: r["val_accuracy"])["epoch"],
            "stopped": progress.stopped, "train_s": progress.elapsed,
            "total_s": time.perf_counter() - start,
            "model": json.loads((out / "config.json").read_text())["model"]}  # fmt: skip


def table(r: dict[str, Any]) -> str:
    lm, rows = r["lm"], [
        "| run | test accuracy | macro-F1 | wall time | validations (best epoch) | stopped by |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (("transfer", "classifier with `--encoder-from`"),
                       ("ulmfit", "the same with discriminative lrs (2.6) and unfreezing"),
                       ("baseline", "same classifier, no transfer")):  # fmt: skip
        if key in r:
            c = r[key]
            rows.append(f"| {label} | **{c['test_accuracy']:.2%}** | {c['test_macro_f1']:.4f} | "
                        f"{c['total_s'] / 60:.1f} min | {c['validations']} ({c['best_epoch']}) | "
                        f"{c['stopped']} |")  # fmt: skip
    return "\n".join(rows) + (
        f"\n\nLanguage model on the training reviews' text (one 128-unit LSTM layer, "
        f"GloVe 50d start, vocabulary 10,000): {lm['tokens']:,} tokens in {lm['train_s'] / 60:.1f} "
        f"minutes ({lm['tokens_per_s']:,.0f} tokens/s), validation perplexity {lm['val_ppl']:.1f}; "
        f"{lm['total_s'] / 60:.1f} min with reading and tokenising. Language model plus "
        f"transfer classifier: {r['pipeline_s'] / 60:.1f} minutes of wall time (target ≤ 30). "
        f"Torch threads: {r['threads']}. Transfer: ULMFiT (Howard & Ruder 2018); its "
        "discriminative learning rates (÷2.6 per layer down) and gradual unfreezing are the "
        "comparison run (rnnkit's defaults leave them off); IMDB: Maas "
        "et al. 2011; GloVe: Pennington, Socher & Manning 2014.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm-minutes", type=float, default=14.0, help="language model cap")
    parser.add_argument("--clf-minutes", type=float, default=12.0, help="each classifier's cap")
    parser.add_argument("--subset", type=int, help="N training and N test reviews; not published")
    parser.add_argument("--no-comparisons", action="store_true", help="skip the transfer with "
                        "ULMFiT's schedule and the run without transfer")  # fmt: skip
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train, test = SHARED_DATA / "imdb" / "train.csv", SHARED_DATA / "imdb" / "test.csv"
    if not train.exists():
        print(f"skipped: {SHARED_DATA} lacks imdb")
        return
    if RUNS.exists():
        shutil.rmtree(RUNS)
    if args.subset:
        train = subset(train, args.subset, RUNS / "data" / "train.csv")
        test = subset(test, args.subset, RUNS / "data" / "test.csv")
    results: dict[str, Any] = {"threads": torch.get_num_threads(), "subset": args.subset}
    results["lm"] = lm_run(train, args.lm_minutes)
    print(f"=== language model: {results['lm']}", flush=True)
    encoder = {"data": {"encoder_from": results["lm"]["out"]}}
    results["transfer"] = clf_run("transfer", train, test, args.clf_minutes, **encoder)
    results["pipeline_s"] = results["lm"]["total_s"] + results["transfer"]["total_s"]
    print(f"=== with transfer: {results['transfer']}", flush=True)
    if not args.no_comparisons:
        results["ulmfit"] = clf_run("ulmfit", train, test, args.clf_minutes,
                                    model=ULMFIT, **encoder)  # fmt: skip
        print(f"=== transfer with the ULMFiT schedule: {results['ulmfit']}", flush=True)
        results["baseline"] = clf_run("baseline", train, test, args.clf_minutes, model=BASELINE)
        print(f"=== without transfer: {results['baseline']}", flush=True)
    if args.subset:
        (RUNS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        print(f"subset run, not published: {RUNS / 'results.json'}\n{table(results)}")
        return
    publish("classify_transfer", "IMDB with transfer from a language model (ULMFiT, CPU)",
            results, table(results))  # fmt: skip


if __name__ == "__main__":
    main()
