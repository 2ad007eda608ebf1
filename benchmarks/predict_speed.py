"""``rnnkit predict`` end to end on IMDB test reviews, against Keras ``predict`` on the same model.

Run: ``python benchmarks/predict_speed.py [--texts 25000] [--rounds 3]`` (needs
../shared/data/imdb; Keras 3 on TensorFlow CPU is an optional column, ``pip install -e .[bench]``).

The model is rnnkit's default classifier (``rnnkit.TextClassifier()``: bundled GloVe 50d
vectors, one forward LSTM of 128, max pooling, reviews cut to 400 tokens) fitted for 50 steps
on 2,000 training reviews: prediction speed does not depend on how well it learned. Keras 3
gets the same shape with random weights and its own text pipeline inside the model:
``TextVectorization`` (as many words as rnnkit's vocabulary, Keras' default standardisation,
400 tokens) -> ``Embedding(V, 50, mask_zero=True)`` -> ``LSTM(128, return_sequences=True)``
-> ``GlobalMaxPooling1D`` -> ``Dense(1, sigmoid)``.

Timed on the first ``--texts`` test reviews (texts/s, best of ``--rounds``, systems taking
turns; 2 threads each):

* ``rnnkit predict`` (CLI): ``rnnkit predict RUN --file reviews.txt --json`` as a subprocess,
  output to a file: everything a user waits for (start-up, loading the checkpoint, reading,
  tokenising, scoring, writing). ``startup_s`` is ``rnnkit predict RUN "one text"``; the
  "without start-up" rate subtracts it.
* rnnkit API: ``clf.predict_proba(texts)`` in this process (tokenising and scoring).
* rnnkit model only: ``logits_of`` on ids encoded beforehand.
* Keras end to end: ``model.predict`` on the raw strings, ``batch_size=256``.
* Keras model only: the model after ``TextVectorization`` on ids encoded beforehand.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import SHARED_DATA, publish
from seeds_speed import keras_available

import rnnkit
from rnnkit.tasks.classification import logits_of

THREADS = 2
BATCH = 256  # Keras' predict batch, and rnnkit's scoring batch (EVAL_BATCH_SIZE)


def imdb(split: str) -> tuple[list[str], list[str]]:
    with (SHARED_DATA / "imdb" / f"{split}.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [" ".join(r["text"].splitlines()) for r in rows], [r["label"] for r in rows]


def time_call(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def keras_models(vocab_size: int, max_len: int, train_texts: list[str]):
    """(end-to-end model on strings, the same model's layers on ids)."""
    import keras
    import tensorflow as tf

    vectorize = keras.layers.TextVectorization(max_tokens=vocab_size, output_sequence_length=max_len)
    vectorize.adapt(tf.constant(train_texts))
    ids = keras.Input((max_len,), dtype="int64")
    x = keras.layers.Embedding(vocab_size, 50, mask_zero=True)(ids)
    x = keras.layers.LSTM(128, return_sequences=True)(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    core = keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(x))
    texts = keras.Input((), dtype="string")
    return keras.Model(texts, core(vectorize(texts))), core, vectorize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=25000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (SHARED_DATA / "imdb" / "test.csv").exists():
        sys.exit("skipped: ../shared/data/imdb is absent")
    torch.set_num_threads(THREADS)
    train_texts, train_labels = imdb("train")
    texts = imdb("test")[0][: args.texts]
    use_keras = keras_available(THREADS)
    work = Path(tempfile.mkdtemp(prefix="predict_speed_"))
    run = work / "run"
    clf = rnnkit.TextClassifier(seed=0)
    clf.fit(train_texts[::12][:2000], train_labels[::12][:2000], steps=50, out=run, verbose=0)
    fitted = clf.fitted_
    reviews = work / "reviews.txt"
    reviews.write_text("\n".join(texts) + "\n", encoding="utf-8")
    cli = [sys.executable, "-m", "rnnkit", "predict", str(run)]
    ids = fitted.encode(texts)
    with torch.inference_mode():
        logits_of(fitted.model, ids[:BATCH])  # warm-up

    def run_cli() -> None:
        with (work / "out.jsonl").open("w") as out:
            subprocess.run([*cli, "--file", str(reviews), "--json"], stdout=out, check=True)

    systems = {
        "rnnkit_cli": run_cli,
        "rnnkit_api": lambda: clf.predict_proba(texts),
        "rnnkit_model": lambda: logits_of(fitted.model, ids),
    }
    if use_keras:
        import tensorflow as tf

        vocab_size = fitted.model.config.vocab_size
        max_len = fitted.config["vectorizer"]["max_len"]
        end_to_end, core, vectorize = keras_models(vocab_size, max_len, train_texts)
        strings = tf.constant(texts)
        keras_ids = vectorize(strings).numpy()
        end_to_end.predict(strings[:BATCH], batch_size=BATCH, verbose=0)  # compiles
        core.predict(keras_ids[:BATCH], batch_size=BATCH, verbose=0)
        systems["keras"] = lambda: end_to_end.predict(strings, batch_size=BATCH, verbose=0)
        systems["keras_model"] = lambda: core.predict(keras_ids, batch_size=BATCH, verbose=0)
    seconds: dict[str, list[float]] = {name: [] for name in systems}
    startup: list[float] = []
    for _ in range(args.rounds):
        startup.append(time_call(lambda: subprocess.run([*cli, "a fine film"], capture_output=True)))
        for name, fn in systems.items():
            seconds[name].append(time_call(fn))
            print(f"{name}: {seconds[name][-1]:.2f} s", flush=True)
    n = len(texts)
    rates = {name: n / min(s) for name, s in seconds.items()}
    rates["rnnkit_cli_without_startup"] = n / (min(seconds["rnnkit_cli"]) - min(startup))
    labels = {
        "rnnkit_cli": "`rnnkit predict` (CLI, whole run)",
        "rnnkit_cli_without_startup": "`rnnkit predict` without its start-up",
        "rnnkit_api": "rnnkit API `predict_proba` (tokenise + score)",
        "rnnkit_model": "rnnkit model only (ids encoded beforehand)",
        "keras": "Keras `predict` on strings (TextVectorization inside)",
        "keras_model": "Keras model only (ids vectorised beforehand)",
    }
    keras_rate = rates.get("keras")
    rows = [
        f"| {labels[name]} | {rate:,.0f} | "
        + (f"{rate / keras_rate:.2f} |" if keras_rate else "— |")
        for name, rate in rates.items()
    ]
    table = (
        "| system | texts/s | vs Keras end to end |\n|---|---|---|\n" + "\n".join(rows)
        + f"\n\n{n:,} IMDB test reviews, best of {args.rounds}; `rnnkit predict` start-up "
        f"(one text): {min(startup):.2f} s. Model: rnnkit's default classifier (GloVe 50d, "
        f"LSTM 128, max pooling, the n-gram bag, 400 tokens, "
        f"{fitted.model.config.vocab_size:,} embedding rows); Keras the same shape without the "
        f"n-gram bag (rnnkit's classifier had none before 2026-12-05). {THREADS} threads."
    )  # fmt: skip
    print(table)
    publish(
        "predict_speed", "Prediction end to end on IMDB: rnnkit predict vs Keras",
        {"texts": n, "texts_per_s": rates, "startup_s": min(startup), "seconds": seconds},
        table,
    )  # fmt: skip


if __name__ == "__main__":
    main()
