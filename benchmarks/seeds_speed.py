"""Side by side: the seeds' three configurations trained by rnnkit, torch.nn, a cell loop and Keras.

Run: ``python benchmarks/seeds_speed.py`` (about 6 minutes on 2 idle cores; ``--quick`` for a
smoke run). Keras 3 on TensorFlow CPU is an optional column (``pip install -e .[bench]``);
without it that column is left out. Each configuration trains (forward, loss, backward, Adam)
on synthetic batches of its real shape, every system with the same sizes, taking turns
(interleaved rounds, median samples/s, ratios round by round):

* ``imdb_rnn``: IMDB stacked SimpleRNN 2x64, embedding 64, 10k words, maxlen 80, batch 128;
  lengths as IMDB's at maxlen 80 (90% full, the rest uniform 10..80).
* ``agnews_bilstm``: AG News 2-layer BiLSTM 64, embedding 50, 20k words, maxlen 100, batch 64;
  lengths uniform 15..60 (AG News titles + descriptions).
* ``char_lstm``: character LSTM 256 on one-hot input, seq 40, batch 50, 60 symbols, predicting
  the next character after the 40 (the Keras text-generation example).

Systems: rnnkit (``lengths=`` for variable length), torch.nn padded (ignores lengths: the
speed floor, not the same answer), torch.nn packed, a Python loop over torch.nn cells (padded),
Keras (``mask_zero=True`` for variable length; TF with 2 intra-op threads). Also measured: the
fp32 and bf16 GEMM peak of the machine (torch.mm 2048^3) and the fraction of the fp32 peak the
char LSTM 256 reaches; one epoch of real IMDB training (../shared/data, skipped when absent) on
a subset of ``--imdb-subset`` reviews with the time extrapolated to 25,000, each system as it
would do it idiomatically (rnnkit: length-bucketed batches with ``lengths=``; PyTorch: shuffled
batches, packed; Keras: padded to 80 with masking, ``fit``), and prediction throughput
(texts/s, model only) on IMDB test reviews.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import time
from collections import Counter
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from common import SETTLE, SHARED_DATA, gemm_peak, publish
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit.nn as rnn
from rnnkit.train.device import resolve_precision

CONFIGS = {
    "imdb_rnn": {"kind": "RNN", "vocab": 10000, "embed": 64, "hidden": 64, "layers": 2,
                 "bidir": False, "batch": 128, "time": 80, "classes": 2, "varlen": True},
    "agnews_bilstm": {"kind": "LSTM", "vocab": 20000, "embed": 50, "hidden": 64, "layers": 2,
                      "bidir": True, "batch": 64, "time": 100, "classes": 4, "varlen": True},
    "char_lstm": {"kind": "LSTM", "vocab": 60, "embed": 0, "hidden": 256, "layers": 1,
                  "bidir": False, "batch": 50, "time": 40, "classes": 60, "varlen": False},
}  # fmt: skip
THREADS = 2


def synthetic_lengths(name: str, cfg: dict, gen: torch.Generator) -> torch.Tensor:
    batch, time_ = cfg["batch"], cfg["time"]
    if name == "imdb_rnn":
        lengths = torch.full((batch,), time_)
        short = torch.rand(batch, generator=gen) < 0.1
        lengths[short] = torch.randint(10, time_ + 1, (int(short.sum()),), generator=gen)
        return lengths
    if name == "agnews_bilstm":
        return torch.randint(15, 61, (batch,), generator=gen)
    return torch.full((batch,), time_)


class TorchModel(nn.Module):
    """Embedding (or one-hot) -> recurrent stack -> linear head on its final hidden state(s).

    ``mode``: "rnnkit" (rnnkit.nn with lengths=), "padded" / "packed" (torch.nn), "loop"
    (torch.nn cells stepped in Python, padded).
    """

    def __init__(self, cfg: dict, mode: str) -> None:
        super().__init__()
        self.cfg, self.mode = cfg, mode
        width = cfg["embed"] or cfg["vocab"]
        self.embedding = nn.Embedding(cfg["vocab"], cfg["embed"]) if cfg["embed"] else None
        kw = {"num_layers": cfg["layers"], "bidirectional": cfg["bidir"], "batch_first": True}
        if mode == "rnnkit":
            self.rnn = getattr(rnn, cfg["kind"])(width, cfg["hidden"], **kw)
        elif mode in ("padded", "packed"):
            self.rnn = getattr(nn, cfg["kind"])(width, cfg["hidden"], **kw)
        else:
            dirs = 2 if cfg["bidir"] else 1
            cell = getattr(nn, f"{cfg['kind']}Cell")
            self.cells = nn.ModuleList(
                cell(width if layer == 0 else cfg["hidden"] * dirs, cfg["hidden"])
                for layer in range(cfg["layers"])
                for _ in range(dirs)
            )
        self.head = nn.Linear(cfg["hidden"] * (2 if cfg["bidir"] else 1), cfg["classes"])

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, T), lengths (B,) -> logits (B, classes), from the last layer's final hidden
        state(s) (both directions': the forward one at each sequence's last step, the reverse
        one at its first), as Keras's recurrent layers return without return_sequences."""
        if self.embedding is None:
            x = F.one_hot(ids, self.cfg["vocab"]).float()
        else:
            x = self.embedding(ids)
        if self.mode == "rnnkit":
            _, state = self.rnn(x, lengths=None if not self.cfg["varlen"] else lengths)
        elif self.mode == "packed":
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, state = self.rnn(packed)
        elif self.mode == "padded":
            _, state = self.rnn(x)
        else:
            return self.head(self._loop(x))
        h_n = state[0] if isinstance(state, tuple) else state  # (L*dirs, B, H)
        dirs = 2 if self.cfg["bidir"] else 1
        return self.head(torch.cat(list(h_n[-dirs:]), dim=-1))

    def _loop(self, x: torch.Tensor) -> torch.Tensor:
        """The cells stepped over x (B, T, D); returns the last layer's final states (B, dirs*H)."""
        dirs = 2 if self.cfg["bidir"] else 1
        for layer in range(self.cfg["layers"]):
            outs, finals = [], []
            for d in range(dirs):
                cell, state, steps = self.cells[layer * dirs + d], None, []
                order = range(x.shape[1]) if d == 0 else reversed(range(x.shape[1]))
                for t in order:
                    state = cell(x[:, t], state)
                    steps.append(state[0] if isinstance(state, tuple) else state)
                outs.append(torch.stack(steps if d == 0 else steps[::-1], 1))
                finals.append(steps[-1])
            x = torch.cat(outs, -1)
        return torch.cat(finals, -1)


def torch_trainer(model: nn.Module, dtype: torch.dtype = torch.float32):
    """One Adam step per call; the forward under CPU autocast to ``dtype`` (fp32: none). The
    fused Adam (one kernel for all parameters), as rnnkit's Trainer uses, for every system:
    the default per-parameter loop took 1-2.3 ms of a 15-25 ms imdb_rnn step here."""
    opt = torch.optim.Adam(model.parameters(), 1e-3, fused=True)

    def step(ids: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            logits = model(ids, lengths)
        F.cross_entropy(logits.float(), labels).backward()
        opt.step()

    return step


def rnnkit_precision(name: str, cfg: dict, ids, lengths, labels) -> torch.dtype:
    """What ``--precision auto`` picks on this CPU for this configuration: as the Trainer
    does, one training step of the model (forward and backward) timed under bf16 autocast and
    without; bf16 when measured faster here (cached per machine)."""
    model = TorchModel(cfg, "rnnkit")

    def step(bf16: bool) -> None:
        with torch.random.fork_rng(devices=[]):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(ids, lengths)
            F.cross_entropy(logits.float(), labels).backward()
        model.zero_grad(set_to_none=True)

    return resolve_precision("auto", torch.device("cpu"), (f"seeds_speed:{name}", step))


def torch_bf16_works(cfg: dict, ids, lengths, labels) -> bool:
    """Can torch.nn run this configuration under bf16 autocast here (oneDNN may refuse)?"""
    try:
        torch_trainer(TorchModel(cfg, "padded"), torch.bfloat16)(ids, lengths, labels)
        return True
    except RuntimeError:
        return False


def keras_available(threads: int) -> bool:
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        return True
    except Exception:  # absent, or unusable here: the column is left out
        return False


def keras_model(cfg: dict):
    import keras

    layer = {"RNN": keras.layers.SimpleRNN, "LSTM": keras.layers.LSTM}[cfg["kind"]]
    inputs = keras.Input((cfg["time"],) if cfg["embed"] else (cfg["time"], cfg["vocab"]))
    x = inputs
    if cfg["embed"]:
        x = keras.layers.Embedding(cfg["vocab"], cfg["embed"], mask_zero=cfg["varlen"])(x)
    for index in range(cfg["layers"]):
        rec = layer(cfg["hidden"], return_sequences=index < cfg["layers"] - 1)
        x = keras.layers.Bidirectional(rec)(x) if cfg["bidir"] else rec(x)
    model = keras.Model(inputs, keras.layers.Dense(cfg["classes"])(x))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    return model


def keras_inputs(cfg: dict, ids: torch.Tensor, lengths: torch.Tensor):
    """Keras's padded batch: ids with 0 after each length (the mask), or one-hot floats."""
    arr = ids.masked_fill(torch.arange(ids.shape[1])[None] >= lengths[:, None], 0)
    if not cfg["embed"]:
        return F.one_hot(arr, cfg["vocab"]).float().numpy()
    return arr.numpy()


def synthetic_batch(name: str, cfg: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ids (B, T), lengths (B,), labels (B,) of the configuration's real shape."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, cfg["vocab"], (cfg["batch"], cfg["time"]), generator=gen)
    lengths = synthetic_lengths(name, cfg, gen)
    return ids, lengths, torch.randint(0, cfg["classes"], (cfg["batch"],), generator=gen)


def training_steps(cfg: dict, ids, lengths, labels, auto: torch.dtype, use_keras: bool) -> dict:
    """One training step on (ids, lengths, labels) per system, as argument-free callables.

    rnnkit runs at ``auto``, what its default precision picks; where that is bf16,
    "rnnkit_fp32" shows it in fp32 too. "padded_bf16" is torch.nn under bf16 autocast, where
    oneDNN builds it.
    """
    fp32, bf16 = torch.float32, torch.bfloat16
    modes = [("rnnkit", "rnnkit", auto)] + ([("rnnkit_fp32", "rnnkit", fp32)] if auto != fp32 else [])
    modes += [("padded", "padded", fp32)]
    modes += [("padded_bf16", "padded", bf16)] if torch_bf16_works(cfg, ids, lengths, labels) else []
    modes += ([("packed", "packed", fp32)] if cfg["varlen"] else []) + [("loop", "loop", fp32)]
    runs = {}
    for name, mode, dtype in modes:
        torch.manual_seed(0)
        runs[name] = partial(torch_trainer(TorchModel(cfg, mode), dtype), ids, lengths, labels)
    if use_keras:
        model = keras_model(cfg)
        runs["keras"] = partial(model.train_on_batch, keras_inputs(cfg, ids, lengths), labels.numpy())
    return runs


def seed_configs(rounds: int, seconds: float, use_keras: bool) -> list[dict]:
    """Each configuration's systems in interleaved rounds; each run lasts about ``seconds``
    (its step count set from a timed step after the warm-up). The ratio to the best other
    system (by median samples/s) is taken round by round, the two runs seconds apart,
    and its median reported with its range: the VM's speed drifts 20-40% within a run, which
    a ratio of medians taken over different stretches of time does not cancel."""
    results = []
    for name, cfg in CONFIGS.items():
        ids, lengths, labels = synthetic_batch(name, cfg)
        auto = rnnkit_precision(name, cfg, ids, lengths, labels)
        runs = training_steps(cfg, ids, lengths, labels, auto, use_keras)
        steps = {}
        for mode, run in runs.items():
            run()  # warm-up (Keras compiles its graph)
            start = time.perf_counter()
            run()
            steps[mode] = max(1, round(seconds / (time.perf_counter() - start)))
        speeds: dict[str, list[float]] = {mode: [] for mode in runs}
        modes = list(runs)
        for index in range(rounds):  # the order turns each round: no system always runs
            shift = index % len(modes)  # right after the same other (Keras slowed the next)
            for mode in modes[shift:] + modes[:shift]:
                run = runs[mode]
                time.sleep(SETTLE)
                start = time.perf_counter()
                for _ in range(steps[mode]):
                    run()
                speeds[mode].append(cfg["batch"] * steps[mode] / (time.perf_counter() - start))
        median = {mode: statistics.median(v) for mode, v in speeds.items()}
        best_other = max(("padded", "packed", "keras"), key=lambda m: median.get(m, 0.0))
        best_any = max((m for m in median if not m.startswith("rnnkit")), key=median.__getitem__)
        paired = {key: [a / b for a, b in zip(speeds["rnnkit"], speeds[other], strict=True)]
                  for key, other in (("other", best_other), ("any", best_any))}  # fmt: skip
        results.append({"config": name, **cfg, "samples_per_s": median, "steps_per_run": steps,
                        "rnnkit_precision": str(auto).removeprefix("torch."),
                        "best_other": best_other, "best_any": best_any,
                        "rnnkit_over_best_other_by_round": paired["other"],
                        "rnnkit_over_best_other": statistics.median(paired["other"]),
                        "rnnkit_over_best_incl_bf16": statistics.median(paired["any"])})  # fmt: skip
        print(name, {m: round(v) for m, v in median.items()},
              "rnnkit/best other by round", [round(r, 2) for r in paired["other"]], flush=True)
    return results


def char_lstm_flops_per_sample() -> float:
    """Forward + backward FLOPs of one char_lstm sample: 3x the forward's GEMMs."""
    cfg = CONFIGS["char_lstm"]
    gates = 4 * cfg["hidden"]
    forward = 2 * cfg["time"] * gates * (cfg["vocab"] + cfg["hidden"]) + 2 * cfg["hidden"] * cfg["classes"]
    return 3 * forward


def imdb_reviews(split: str, limit: int) -> tuple[list[list[str]], list[int]] | None:
    path = Path(os.environ.get("RNNKIT_SHARED_DATA", SHARED_DATA)) / "imdb" / f"{split}.csv"
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    gen = torch.Generator().manual_seed(0)
    rows = [rows[i] for i in torch.randperm(len(rows), generator=gen)[:limit].tolist()]
    words = [re.findall(r"[a-z0-9']+", r["text"].lower().replace("<br />", " ")) for r in rows]
    return words, [int(r["label"] == "pos") for r in rows]


def encode(texts: list[list[str]], vocab: dict[str, int], maxlen: int):
    """Ids (N, maxlen) left-aligned, last ``maxlen`` words kept ('pre' truncation), lengths."""
    ids = torch.zeros(len(texts), maxlen, dtype=torch.long)
    lengths = torch.ones(len(texts), dtype=torch.long)
    for i, words in enumerate(texts):
        row = [vocab.get(w, 1) for w in words][-maxlen:] or [1]
        ids[i, : len(row)], lengths[i] = torch.tensor(row), len(row)
    return ids, lengths


def imdb_epoch(subset: int, use_keras: bool) -> dict | None:
    """One epoch of the seed IMDB model (2x SimpleRNN 64) on ``subset`` reviews, extrapolated."""
    train = imdb_reviews("train", subset)
    test = imdb_reviews("test", subset)
    if train is None or test is None:
        return None
    counts = Counter(w for words in train[0] for w in words)
    vocab = {w: i + 2 for i, (w, _) in enumerate(counts.most_common(10000 - 2))}
    cfg = CONFIGS["imdb_rnn"]
    ids, lengths = encode(train[0], vocab, cfg["time"])
    labels = torch.tensor(train[1])
    test_ids, test_lengths = encode(test[0], vocab, cfg["time"])
    batch, n = cfg["batch"], len(labels)
    epoch: dict[str, float] = {}
    predict: dict[str, float] = {}
    for mode in ("rnnkit", "packed"):
        torch.manual_seed(0)
        model = TorchModel(cfg, mode)
        dtype = torch.float32
        if mode == "rnnkit":  # the answer cached for the imdb_rnn configuration
            dtype = rnnkit_precision("imdb_rnn", cfg, ids[:batch], lengths[:batch], labels[:batch])
        step = torch_trainer(model, dtype)
        step(ids[:batch], lengths[:batch], labels[:batch])  # warm-up, not timed
        if mode == "rnnkit":  # length buckets: sort, cut into batches, shuffle the batches
            order = torch.argsort(lengths + torch.rand(n), descending=True)
            batches = [order[i : i + batch] for i in range(0, n, batch)]
            batches = [batches[i] for i in torch.randperm(len(batches)).tolist()]
        else:
            order = torch.randperm(n)
            batches = [order[i : i + batch] for i in range(0, n, batch)]
        start = time.perf_counter()
        for b in batches:
            step(ids[b], lengths[b], labels[b])
        epoch[mode] = (time.perf_counter() - start) * 25000 / n
        model.eval()
        with torch.inference_mode(), torch.autocast("cpu", dtype, enabled=dtype != torch.float32):
            model(test_ids[:256], test_lengths[:256])  # warm-up
            start = time.perf_counter()
            for i in range(0, len(test_ids), 256):
                model(test_ids[i : i + 256], test_lengths[i : i + 256])
        predict[mode] = len(test_ids) / (time.perf_counter() - start)
    if use_keras:
        model = keras_model(cfg)
        kx, ky = keras_inputs(cfg, ids, lengths), labels.numpy()
        model.fit(kx[:batch], ky[:batch], batch_size=batch, epochs=1, verbose=0)  # compiles
        start = time.perf_counter()
        model.fit(kx, ky, batch_size=batch, epochs=1, shuffle=True, verbose=0)
        epoch["keras"] = (time.perf_counter() - start) * 25000 / n
        tx = keras_inputs(cfg, test_ids, test_lengths)
        model.predict(tx[:256], batch_size=256, verbose=0)  # compiles
        start = time.perf_counter()
        model.predict(tx, batch_size=256, verbose=0)
        predict["keras"] = len(tx) / (time.perf_counter() - start)
    return {"subset": n, "epoch_s_extrapolated_25k": epoch, "predict_texts_per_s": predict}


def table(
    results: list[dict], peak: dict, flop_fraction: float, imdb: dict | None, seconds: float
) -> str:
    columns = ["rnnkit", "rnnkit_fp32", "padded", "padded_bf16", "packed", "loop", "keras"]
    lines = [
        "| configuration | " + " | ".join(columns) + " | rnnkit / best of fp32 torch.nn & Keras "
        "| rnnkit / best of all others |",
        "|---|" + "---|" * (len(columns) + 2),
    ]
    for r in results:
        cells = [f"{r['samples_per_s'][c]:,.0f}" if c in r["samples_per_s"] else "—" for c in columns]
        by_round = r["rnnkit_over_best_other_by_round"]
        lines.append(f"| {r['config']} | " + " | ".join(cells) + f" | **{r['rnnkit_over_best_other']:.2f}** "
                     f"({min(by_round):.2f}-{max(by_round):.2f}, vs {r['best_other']}) "
                     f"| {r['rnnkit_over_best_incl_bf16']:.2f} |")  # fmt: skip
    picked = ", ".join(f"{r['config']} {r['rnnkit_precision']}" for r in results)
    text = "\n".join(lines) + (
        "\n\nTraining samples/s (forward, loss, backward, Adam: torch's fused Adam for every "
        "torch system, as rnnkit's Trainer uses; Keras its own), median of interleaved rounds "
        f"(each system's run about {seconds:g} s, the order turned each round, a {SETTLE} s pause "
        "before each run); the ratios are the median of the round-by-round ratios (range in "
        "brackets: the VM's speed drifts within a run, and a ratio within one round cancels "
        "most of it), "
        f"torch.set_num_threads({torch.get_num_threads()}). rnnkit = its defaults, precision auto "
        f"(here {picked}: the model's own training step timed both ways, as the Trainer does; "
        "rnnkit_fp32 = the same in fp32, shown when auto picks bf16); padded = torch.nn ignoring lengths; padded_bf16 = the same under bf16 "
        "autocast (— where oneDNN cannot build it); packed = torch.nn on "
        "pack_padded_sequence; loop = torch.nn cells stepped in Python; keras = Keras 3 on "
        "TensorFlow CPU (— when not installed).\n\n"
        f"GEMM peak (torch.mm 2048³): fp32 {peak['fp32']:.1f} GFLOP/s, bf16 {peak['bf16']:.1f} "
        f"GFLOP/s. rnnkit's char LSTM 256 reaches {flop_fraction:.0%} of the peak of the precision "
        f"it ran in ({results[-1]['rnnkit_precision']})."
    )
    if imdb:
        e, p = imdb["epoch_s_extrapolated_25k"], imdb["predict_texts_per_s"]
        text += (
            f"\n\nOne IMDB epoch (seed model, 25,000 reviews; measured on {imdb['subset']:,} and "
            "extrapolated): " + ", ".join(f"{k} {v:.1f} s" for k, v in e.items())
            + " (after one untimed warm-up step, which for Keras compiles the graph). "
            "Prediction (model only, batch 256): "
            + ", ".join(f"{k} {v:,.0f} texts/s" for k, v in p.items()) + "."
        )  # fmt: skip
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=0.5, help="each system's run per round")
    parser.add_argument("--imdb-subset", type=int, default=2560)
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument("--threads", type=int, default=THREADS, help="torch and TF intra-op threads")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 step, 256 reviews")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.imdb_subset = 1, 0.0, 256
    torch.set_num_threads(args.threads)
    use_keras = not args.no_keras and keras_available(args.threads)
    results = seed_configs(args.rounds, args.seconds, use_keras)
    peak = gemm_peak()
    char = next(r for r in results if r["config"] == "char_lstm")
    used = "bf16" if char["rnnkit_precision"] == "bfloat16" else "fp32"
    flop_fraction = char["samples_per_s"]["rnnkit"] * char_lstm_flops_per_sample() / 1e9 / peak[used]
    imdb = imdb_epoch(args.imdb_subset, use_keras)
    figures = {"configs": results, "gemm_peak_gflops": peak, "char_lstm_fp32_peak_fraction":
               flop_fraction, "imdb": imdb, "keras": use_keras}  # fmt: skip
    publish("seeds_speed", "The seeds' configurations side by side (CPU)", figures,
            table(results, peak, flop_fraction, imdb, args.seconds))  # fmt: skip


if __name__ == "__main__":
    main()
