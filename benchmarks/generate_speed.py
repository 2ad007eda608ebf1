"""Sampling speed of the default character model against a hand loop of torch.nn.LSTMCell.

Run: ``python benchmarks/generate_speed.py [--chars 2000] [--repeats 3]``. The model has the
defaults of ``rnnkit train lm`` (2-layer LSTM, 256 units, 64-dim embedding) over a 65-symbol
vocabulary with random weights (speed does not depend on the weights). Timed: ``sample`` at
temperature 1 (ids streamed and turned into text, as ``rnnkit generate`` does) for 1, 2, 4, 8, 16
samples at once, greedy and beam 5, and the textbook loop: two ``torch.nn.LSTMCell`` called per
character, then linear, softmax and ``torch.multinomial``. ``sample`` runs the token steps
``rnnkit.generate.token_step`` measured faster for each row count (numpy or ATen; the table
says which), and once more with ATen's forced (``RNNKIT_NUMPY_STEP=0``). The last row is the
Python API end to end: ``rnnkit.LanguageModel().generate`` (text out) of a model with the
default configuration fitted for one step on the bundled Shakespeare. Interleaved, median of
repeats. Target: >= 10,000 characters/s at one sample on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import torch
from common import SETTLE, gemm_peak, publish

import rnnkit
from rnnkit.generate import NumpyTokenStep, Sampling, TokenStep, beam_search, sample, token_step
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.nn.numpy_step import RowBlocks, cores_to_blas, one_blas_thread, product

VOCAB = 65
SAMPLES = (2, 4, 8, 16)  # the sample counts run besides one
ALPHABET = [chr(32 + i) for i in range(VOCAB)]


def hand_loop(model: LanguageModel, chars: int) -> float:
    """The textbook loop with the model's weights; returns characters per second."""
    cells = []
    for layer in range(model.config.num_layers):
        cell = torch.nn.LSTMCell(model.rnn._layer_input_size(layer), model.config.hidden_size)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).data.copy_(getattr(model.rnn, f"{name}_l{layer}"))
        cells.append(cell)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        ids, states = torch.zeros(1, dtype=torch.long), [None] * len(cells)
        for _ in range(chars):
            x = model.embedding(ids)
            for index, cell in enumerate(cells):
                states[index] = cell(x, states[index])
                x = states[index][0]
            probs = model.decoder(x).softmax(-1)
            ids = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return chars / (time.perf_counter() - start)


def rnnkit_sample(model: LanguageModel, chars: int, num_samples: int, greedy: bool) -> float:
    """rnnkit.generate.sample, ids turned into text per step; characters per second."""
    generator = torch.Generator().manual_seed(0)
    texts = [[] for _ in range(num_samples)]
    start = time.perf_counter()
    for ids in sample(model, [1, 2], chars, Sampling(greedy=greedy), num_samples, generator):
        for text, token in zip(texts, ids.tolist(), strict=True):
            text.append(ALPHABET[token])
    return chars * num_samples / (time.perf_counter() - start)


@contextlib.contextmanager
def aten_steps() -> Iterator[None]:
    """ATen's token steps whatever was measured (RNNKIT_NUMPY_STEP=0)."""
    os.environ["RNNKIT_NUMPY_STEP"] = "0"
    try:
        yield
    finally:
        del os.environ["RNNKIT_NUMPY_STEP"]


def rnnkit_sample_aten(model: LanguageModel, chars: int) -> float:
    with aten_steps():
        return rnnkit_sample(model, chars, 1, False)


def api_generate(estimator: rnnkit.LanguageModel, chars: int) -> float:
    """rnnkit.LanguageModel.generate end to end (prompt, steps, text); characters per second."""
    start = time.perf_counter()
    text = estimator.generate("ROMEO:", length=chars, seed=0)
    return len(text) / (time.perf_counter() - start)


def rnnkit_beam(model: LanguageModel, chars: int) -> float:
    start = time.perf_counter()
    beam_search(model, [1, 2], chars, 5)
    return chars / (time.perf_counter() - start)


def weight_bound(model: LanguageModel, calls: int = 100, rounds: int = 5) -> tuple[int, float]:
    """Bytes of weights one batch-1 step reads, and the machine's read speed for that much.

    Each step multiplies every recurrent and output weight once, so a step cannot take less
    than bytes / bandwidth; the bandwidth is that of summing a buffer of the same size back to
    back (one thread, as the per-step ops run): the best of ``rounds`` averages of ``calls``.
    """
    names = ("weight_ih", "weight_hh")
    layers = range(model.config.num_layers)
    weights = [getattr(model.rnn, f"{n}_l{i}") for n in names for i in layers]
    nbytes = sum(w.numel() * w.element_size() for w in [*weights, model.decoder.weight])
    buffer, best, threads = torch.ones(nbytes // 4), float("inf"), torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.no_grad():
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                buffer.sum()
            best = min(best, (time.perf_counter() - start) / calls)
    torch.set_num_threads(threads)
    return nbytes, nbytes / best


def numpy_step_weights(model: LanguageModel, rows: int = 1) -> list[RowBlocks]:
    """The weights one numpy token step of ``rows`` samples multiplies, in the blocks of rows
    chosen for them: every layer's (the first layer's hidden part alone when its input
    product is looked up, as for a char model), then the output layer's."""
    with one_blas_thread():
        numpy_step = NumpyTokenStep(model, rows=rows)
    layers = numpy_step.layers.layers
    first = layers[0].stacked if numpy_step.table is None else layers[0].hidden
    return [first, *(w.stacked for w in layers[1:]), numpy_step.weight]


def step_flops(model: LanguageModel) -> int:
    """Multiply-adds x 2 of one sample's numpy token step (:func:`numpy_step_weights`)."""
    return 2 * sum(a.weight.size for a in numpy_step_weights(model))


def products_time(model: LanguageModel, calls: int = 200, rounds: int = 5) -> dict[str, float]:
    """Seconds of one batch-1 step's matrix products alone, every layer's two and the output
    layer's: with torch (MKL, the weights as ATen's steps lay them out,
    :func:`rnnkit.nn.step.laid_out`) and with numpy (OpenBLAS on torch's threads, torch on one,
    as the numpy steps run: :func:`rnnkit.nn.numpy_step.cores_to_blas`; the numpy steps'
    products: a looked-up first input product, [x, h] stacked above it). torch's rounds run
    first: OpenBLAS's threads would slow them for a while after numpy's."""
    aten = TokenStep(model)
    weights = [w for layer in aten.layers.weights for w in layer[:2]] + [aten.weight]
    inputs = [torch.ones(1, w.shape[1]) for w in weights]
    arrays = [blocks.weight for blocks in numpy_step_weights(model)]
    vectors = [np.ones((1, a.shape[1]), a.dtype) for a in arrays]
    best = {"torch": float("inf"), "numpy": float("inf")}
    with torch.inference_mode():
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                for x, w in zip(inputs, weights, strict=True):
                    torch.mm(x, w.t())
            best["torch"] = min(best["torch"], (time.perf_counter() - start) / calls)
    with torch.inference_mode(), cores_to_blas():
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(calls):
                for x, a in zip(vectors, arrays, strict=True):
                    product(a, x)
            best["numpy"] = min(best["numpy"], (time.perf_counter() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = LanguageModel(LanguageModelConfig(vocab_size=VOCAB)).eval()
    with tempfile.TemporaryDirectory() as out:
        estimator = rnnkit.LanguageModel().fit("shakespeare", steps=1, verbose=0, out=out)
    n = args.chars
    variants = {
        "hand LSTMCell loop, 1 sample": (lambda: hand_loop(model, n), None),
        "rnnkit sample, 1 sample": (lambda: rnnkit_sample(model, n, 1, False), 1),
        "rnnkit sample, 1 sample, ATen steps forced": (lambda: rnnkit_sample_aten(model, n), 0),
        "rnnkit greedy, 1 sample": (lambda: rnnkit_sample(model, n, 1, True), 1),
        **{
            f"rnnkit sample, {k} samples": (functools.partial(rnnkit_sample, model, n, k, False), k)
            for k in SAMPLES
        },
        "rnnkit beam 5": (lambda: rnnkit_beam(model, max(n // 5, 1)), 5),
        "rnnkit.LanguageModel.generate, 1 sample": (lambda: api_generate(estimator, n), 1),
    }
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (run, _) in variants.items():
            time.sleep(SETTLE)
            speeds[name].append(run())
    median = {name: statistics.median(s) for name, s in speeds.items()}
    steps = {
        name: "—" if rows is None else "ATen" if rows == 0 else
        "numpy" if isinstance(token_step(model, rows=rows), NumpyTokenStep) else "ATen"
        for name, (_, rows) in variants.items()
    }  # fmt: skip
    hand = median["hand LSTMCell loop, 1 sample"]
    nbytes, bandwidth = weight_bound(model)
    bound, products = bandwidth / nbytes, products_time(model)
    flops, peak = step_flops(model), gemm_peak()["fp32"]
    compute_bound = peak * 1e9 / flops
    blocks = {n: [len(w.bounds) for w in numpy_step_weights(model, n)] for n in SAMPLES}
    scaling = ", ".join(
        f"{n} samples {median[f'rnnkit sample, {n} samples'] / median['rnnkit sample, 1 sample']:.2f}x"
        f" (blocks {'/'.join(map(str, blocks[n]))})"
        for n in SAMPLES
    )
    rows = [
        f"| {name} | {steps[name]} | {cps:,.0f} | {cps / hand:.2f} |"
        for name, cps in median.items()
    ]
    print("\n".join(rows))
    one = median["rnnkit sample, 1 sample"]
    table = (
        "| generation | token steps | characters/s | / hand loop |\n|---|---|---|---|\n"
        + "\n".join(rows) + "\n\n"
        f"Default char model (2x256 LSTM, embedding 64, V={VOCAB}, random weights), "
        f"{n} characters per run (beam: {max(n // 5, 1)}), median of {args.repeats} "
        f"interleaved runs, {torch.get_num_threads()} threads. Several samples: characters of "
        "all samples together per second. Token steps: the ones `token_step` measured faster "
        "here for that many rows (numpy's run with its BLAS on torch's threads and torch on "
        "one). Each run starts after a 0.3 s pause: OpenBLAS's threads spin for about 0.1 s "
        "after numpy's steps, slowing whatever runs next.\n\n"
        f"What bounds one sample: each character reads all {nbytes / 2**20:.1f} MiB of fp32 "
        f"weights once; this machine reads that much at {bandwidth / 1e9:.1f} GB/s (one thread, "
        f"sums back to back), so one sample cannot exceed {bound:,.0f} characters/s here; "
        f"rnnkit's batch-1 sampling reaches {one / bound:.0%} of that bound. A step's matrix "
        f"products alone take {products['torch'] * 1e6:.0f} us with torch (MKL, 2 threads, best "
        f"layout) and {products['numpy'] * 1e6:.0f} us with numpy (OpenBLAS, the "
        f"first layer's input product looked up), so {1 / products['numpy']:,.0f} characters/s "
        f"would be the most with nothing else in a step; the products are "
        f"{products['numpy'] * one:.0%} of rnnkit's batch-1 step. Several samples share each "
        "weight read, which is why throughput grows with their number.\n\n"
        f"What bounds several samples: each sample's character is {flops / 1e6:.2f} MFLOP of "
        f"products; at this machine's fp32 GEMM peak ({peak:.1f} GFLOP/s, torch.mm 2048³) no "
        f"number of samples can exceed {compute_bound:,.0f} characters/s. 4 samples reach "
        f"{median['rnnkit sample, 4 samples'] / compute_bound:.0%} of that and 16 "
        f"{median['rnnkit sample, 16 samples'] / compute_bound:.0%}. Against one sample: "
        f"{scaling}, the blocks being how many blocks of rows each of the step's products "
        "(first layer, second layer, output) runs in, as measured faster here "
        "(`numpy_step.row_blocks`): OpenBLAS multiplies a small product with a kernel that "
        "copies nothing, and a larger one after copying the weight into its own layout, "
        "which at a few vectors is most of the product. Products of a few rows stay far "
        "below the peak either way."
    )
    figures = {"cps": median, "token_steps": steps, "weight_bytes": nbytes,
               "read_gb_s": bandwidth / 1e9, "bound_cps": bound, "step_flops": flops,
               "fp32_gemm_gflops": peak, "compute_bound_cps": compute_bound,
               "products_us": {k: v * 1e6 for k, v in products.items()},
               "row_blocks": blocks}  # fmt: skip
    publish("generate_speed", "Generation speed: default char model (CPU)", figures, table)


if __name__ == "__main__":
    main()
