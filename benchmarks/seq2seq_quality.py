"""German -> English translation quality on Multi30k: no attention vs additive vs general.

Run: ``python benchmarks/seq2seq_quality.py [--minutes 60] [--attention none additive general]``
(``--threads 2`` by default; the issue's target is 60 minutes of training on 2 CPU cores).

For each attention kind: train the default recipe below on ``train.de``/``train.en`` for
``--minutes`` (validation on ``val``), then score the best checkpoint on ``test_2016_flickr``
with sacrebleu (detokenised output, case-sensitive 13a BLEU, chrF) decoding greedily and with
beam 5, and measure translation speed (test sentences per second, beam 5). Figures go to
``benchmarks/results/seq2seq_quality.json`` and a section of ``benchmarks/RESULTS.md``.
The German val/test files are the dataset's corrected revision (see the data README), so
BLEU is close to, not identical with, scores against the 2016 release.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch
from common import SHARED_DATA, publish

from rnnkit.tasks.translation import (
    DecodingConfig,
    Seq2SeqTrainerConfig,
    TranslationDataConfig,
    train_translator,
)
from rnnkit.tasks.translation_inference import load_translator
from rnnkit.train.metrics import MetricLog

RUNS = Path(__file__).resolve().parent / "runs"
MODEL = {  # the recipe: word level, bidirectional GRU encoder, GRU decoder
    "cell": "gru", "embedding_size": 256, "encoder_hidden_size": 256, "hidden_size": 256,
    "bidirectional": True, "dropout": 0.3,
}  # fmt: skip


def run(attention: str, minutes: float, data: Path, precision: str) -> dict[str, object]:
    """Train one model for ``minutes`` and score it on the test set."""
    out = RUNS / f"multi30k-{attention}"
    if out.exists():
        shutil.rmtree(out)
    config = TranslationDataConfig(
        source=str(data / "train.de"), target=str(data / "train.en"),
        val_source=str(data / "val.de"), val_target=str(data / "val.en"),
        min_freq=2, batch_size=64, label_smoothing=0.1,
    )  # fmt: skip
    trainer = Seq2SeqTrainerConfig(epochs=None, minutes=minutes, progress=False,
                                   precision=precision)  # fmt: skip
    start = time.perf_counter()
    train_translator(out, config, MODEL | {"attention": attention}, trainer)
    return score(out, minutes, data, time.perf_counter() - start)


def score(out: Path, minutes: float, data: Path, wall: float) -> dict[str, object]:
    """Test BLEU/chrF (greedy and beam 5) and speed of the trained run in ``out``."""
    records = MetricLog(out / "metrics.jsonl").read()
    val = [r for r in records if "val_loss" in r]
    config = json.loads((out / "config.json").read_text())
    translator = load_translator(out)
    source, target = str(data / "test_2016_flickr.de"), str(data / "test_2016_flickr.en")
    row: dict[str, object] = {
        "attention": config["model"]["attention"], "train_minutes": minutes,
        "wall_seconds": round(wall, 1), "steps": records[-1]["step"],
        "epochs": records[-1]["epoch"], "best_val_loss": min(r["val_loss"] for r in val),
        "best_val_bleu": max((r.get("val_bleu", 0.0) for r in val), default=None),
    }  # fmt: skip
    for beam in (1, 5):
        began = time.perf_counter()
        scores = translator.evaluate_files(source, target, DecodingConfig(beam=beam))
        seconds = time.perf_counter() - began
        row[f"bleu_beam{beam}"] = round(float(scores["bleu"]), 2)
        row[f"chrf_beam{beam}"] = round(float(scores["chrf"]), 2)
        row[f"sentences_per_s_beam{beam}"] = round(int(scores["sentences"]) / seconds, 1)
    row["test_loss"] = round(float(scores["loss"]), 4)
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="training budget per model")
    parser.add_argument("--attention", nargs="+", default=["none", "additive", "general"])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 = the target)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "multi30k")
    parser.add_argument("--note", default="", help="conditions to record (e.g. a shared machine)")
    parser.add_argument("--score-only", type=float, metavar="WALL_S", default=None,
                        help="score the runs already trained (their wall time in seconds)")
    args = parser.parse_args()
    if not (args.data / "train.de").exists():
        print(f"skipped: {args.data} is absent")
        return
    torch.set_num_threads(args.threads)
    note = (
        "German -> English, Multi30k test_2016_flickr (1,000 sentences), sacrebleu "
        f"case-sensitive BLEU on detokenised output. Model: {MODEL}. Runs of earlier "
        "invocations are kept (a run is replaced by one with the same attention, budget, "
        "threads and precision); each row says its conditions."
    )
    rows = previous_runs()
    for attention in args.attention:  # published after each model, so a cut-off keeps the rest
        if args.score_only is None:
            row = run(attention, args.minutes, args.data, args.precision)
        else:
            out = RUNS / f"multi30k-{attention}"
            row = score(out, args.minutes, args.data, args.score_only)
        row |= {"threads": args.threads, "precision": args.precision, "conditions": args.note}
        rows = [r for r in rows if run_key(r) != run_key(row)] + [row]
        table = [
            "| attention | train min | threads | steps | epochs | BLEU greedy | BLEU beam 5 "
            "| chrF beam 5 | sent/s beam 5 | conditions |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ] + [
            f"| {r['attention']} | {r['train_minutes']} | {r.get('threads', '?')} | "
            f"{r['steps']} | {r['epochs']} | {r['bleu_beam1']} | {r['bleu_beam5']} | "
            f"{r['chrf_beam5']} | {r['sentences_per_s_beam5']} | {r.get('conditions', '')} |"
            for r in rows
        ]
        publish("seq2seq_quality", "Translation quality (Multi30k de-en)",
                {"note": note, "runs": rows}, note + "\n\n" + "\n".join(table))  # fmt: skip


def run_key(row: dict[str, object]) -> tuple[object, ...]:
    """What makes two runs the same experiment."""
    return tuple(row.get(k) for k in ("attention", "train_minutes", "threads", "precision"))


def previous_runs() -> list[dict[str, object]]:
    """The runs already in results/seq2seq_quality.json (none when it is absent)."""
    path = Path(__file__).resolve().parent / "results" / "seq2seq_quality.json"
    if not path.exists():
        return []
    return json.loads(path.read_text()).get("runs", [])

if __name__ == "__main__":
    main()
