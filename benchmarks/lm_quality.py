"""Language-model quality and sampling speed on ../shared/data (skips what is absent).

Run: ``python benchmarks/lm_quality.py [--only shakespeare|ptb|sampling] [--ptb-minutes 25]``.

* Tiny Shakespeare, char LSTM, the default ``rnnkit train lm`` recipe for 10 minutes: best
  validation loss in nats per character (last 10% of the text held out, as nanoGPT does).
* Penn Treebank, word LSTM: the recipe below for ``--ptb-minutes``, then test perplexity.
* Sampling speed of the Shakespeare model: characters per second, sampled and beam 5.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch
from common import SHARED_DATA, publish

from rnnkit.config import with_budget
from rnnkit.tasks.language_modeling import LMDataConfig, LMTrainerConfig, train_language_model
from rnnkit.tasks.lm_inference import load_language_model
from rnnkit.train.metrics import MetricLog

RUNS = Path(__file__).resolve().parent / "runs"


def train(name: str, data: LMDataConfig, model: dict, **trainer: object) -> tuple[Path, float]:
    """Train into benchmarks/runs/<name> (replacing an earlier run); return it and seconds."""
    out = RUNS / name
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    train_language_model(out, data, model, with_budget(LMTrainerConfig, trainer | {"progress": False}))
    return out, time.perf_counter() - start


def best_val(out: Path) -> dict:
    records = MetricLog(out / "metrics.jsonl").read()
    val = [r for r in records if "val_loss" in r]
    return min(val, key=lambda r: r["val_loss"]) | {"evaluations": len(val)}


def shakespeare() -> dict:
    corpus = SHARED_DATA / "tinyshakespeare" / "input.txt"
    out, wall = train(
        "shakespeare", LMDataConfig(corpus=str(corpus), val_fraction=0.1), {}, minutes=10
    )
    best = best_val(out)
    return {"corpus": str(corpus), "recipe": "`rnnkit train lm --corpus input.txt --val-fraction 0.1 --minutes 10` (defaults otherwise)",
            "wall_s": wall, "best": best, "config": json.loads((out / "config.json").read_text())}  # fmt: skip


def ptb(minutes: float) -> dict:
    folder = SHARED_DATA / "ptb"
    data = LMDataConfig(
        corpus=str(folder / "ptb.train.txt"), val_corpus=str(folder / "ptb.valid.txt"),
        level="word", seq_len=35, batch_size=32,
    )  # fmt: skip
    model = {
        "hidden_size": 400,
        "embedding_size": 400,
        "tie_weights": True,
        "num_layers": 2,
        "dropout": 0.5,
    }
    out, wall = train(
        "ptb", data, model, lr=3e-3, eval_every=1000, minutes=minutes, precision="bf16"
    )
    test = load_language_model(out).evaluate_text((folder / "ptb.test.txt").read_text())
    recipe = (
        "rnnkit train lm --corpus ptb.train.txt --val-corpus ptb.valid.txt --level word --seq-len 35 "
        "--batch-size 32 --hidden 400 --embed 400 --tie-weights --layers 2 --dropout 0.5 --lr 3e-3 "
        f"--precision bf16 --eval-every 1000 --minutes {minutes:g}"
    )
    return {"recipe": recipe, "wall_s": wall, "best_valid": best_val(out), "test": test}


def sampling(run: Path) -> dict:
    lm = load_language_model(run)
    figures = {}
    for name, kwargs, length in (
        ("sample_t0.8", {"temperature": 0.8}, 2000),
        ("greedy", {"greedy": True}, 2000),
        ("beam5", {"beam": 5}, 300),
    ):
        start = time.perf_counter()
        text = lm.generate("ROMEO:", length, seed=0, **kwargs)[0]
        figures[name] = {
            "chars": len(text),
            "chars_per_s": len(text) / (time.perf_counter() - start),
        }
    figures["sample_text"] = lm.generate("ROMEO:", 300, temperature=0.8, seed=0)[0]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["shakespeare", "ptb", "sampling"], help="run one part")
    parser.add_argument(
        "--ptb-minutes", type=float, default=25.0, help="PTB training minutes (default %(default)s)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    path = Path(__file__).resolve().parent / "results" / "lm_quality.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures.pop("machine", None)
    figures.pop("benchmark", None)
    if args.only in (None, "shakespeare") and (SHARED_DATA / "tinyshakespeare").is_dir():
        figures["shakespeare"] = shakespeare()
    if args.only in (None, "ptb") and (SHARED_DATA / "ptb").is_dir():
        figures["ptb"] = ptb(args.ptb_minutes)
    if args.only in (None, "sampling") and (RUNS / "shakespeare" / "best").is_dir():
        figures["sampling"] = sampling(RUNS / "shakespeare")
    rows = ["| benchmark | recipe | result | target |", "|---|---|---|---|"]
    if "shakespeare" in figures:
        s = figures["shakespeare"]
        rows.append(
            f"| Tiny Shakespeare, char LSTM, 10 min | {s['recipe']} | best val loss **{s['best']['val_loss']:.3f}** nats/char ({s['best']['val_bpc']:.3f} bpc) at step {s['best']['step']} | ≤ 1.50 |"
        )
    if "ptb" in figures:
        p = figures["ptb"]
        rows.append(
            f"| Penn Treebank, word LSTM, {p['wall_s'] / 60:.0f} min | `{p['recipe']}` | valid ppl {p['best_valid']['val_ppl']:.1f}, **test ppl {p['test']['ppl']:.1f}** | < 115 within an hour |"
        )
    if "sampling" in figures:
        for name, f in figures["sampling"].items():
            if isinstance(f, dict):
                rows.append(
                    f"| sampling speed, {name} | default model, prompt `ROMEO:` | {f['chars_per_s']:.0f} chars/s | — |"
                )
    publish(
        "lm_quality", "Language models: quality and sampling speed (CPU)", figures, "\n".join(rows)
    )


if __name__ == "__main__":
    main()
