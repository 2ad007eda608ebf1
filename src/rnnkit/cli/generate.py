"""``rnnkit generate DIR``: continue a prompt with a trained language model, streaming."""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli.options import add_expect_sha256, flag
from rnnkit.generate import Sampling
from rnnkit.tasks.lm_inference import check_generation, load_language_model


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "generate",
        help="generate text from a trained language model",
        description="Sample (temperature, top-k, top-p), decode greedily or run beam search.",
    )
    parser.add_argument(
        "dir", metavar="DIR", help="run directory (its best/ checkpoint) or a checkpoint directory"
    )
    parser.add_argument(
        "--prompt", default="", help="text that primes the state (default: the start token)"
    )
    flag(parser, "--length", "tokens to generate", 500, type=int)
    flag(parser, "--temperature", "> 0; lower is more conservative", 0.8, type=float)
    parser.add_argument(
        "--top-k", type=int, help="sample among the K most likely tokens (default: all)"
    )
    parser.add_argument(
        "--top-p",
        type=float,
        help="nucleus sampling: smallest set with probability >= P, in (0, 1] (default: off)",
    )
    parser.add_argument("--greedy", action="store_true", help="always take the most likely token")
    flag(parser, "--beam", "beam width; > 1 runs beam search", 1, type=int)
    flag(parser, "--length-penalty", "beam score = log P / length^alpha", 1.0, type=float)
    flag(parser, "--num-samples", "samples generated together", 1, type=int)
    parser.add_argument(
        "--stop", action="append", default=[], help="stop a sample before this string (repeatable)"
    )
    parser.add_argument("--seed", type=int, help="seed for reproducible samples (default: random)")
    flag(parser, "--device", "cpu | cuda | auto", "cpu")
    add_expect_sha256(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    Sampling(args.temperature, args.top_k, args.top_p, args.greedy)  # numbers before loading
    check_generation(
        args.length, args.beam, args.num_samples, args.length_penalty, args.seed, args.stop
    )
    lm = load_language_model(args.dir, device=args.device, expect_sha256=args.expect_sha256)
    streaming = args.beam == 1 and args.num_samples == 1
    out = sys.stdout

    def show(_index: int, text: str) -> None:
        out.write(text)
        out.flush()

    if streaming:
        out.write(args.prompt)
    texts = lm.generate(
        args.prompt, args.length, temperature=args.temperature, top_k=args.top_k,
        top_p=args.top_p, greedy=args.greedy, beam=args.beam,
        length_penalty=args.length_penalty, num_samples=args.num_samples, seed=args.seed,
        stop=args.stop, on_text=show if streaming else None,
    )  # fmt: skip
    if streaming:
        out.write("\n")
        return 0
    for index, text in enumerate(texts):
        out.write(f"--- sample {index + 1} ---\n{args.prompt}{text}\n")
    return 0
