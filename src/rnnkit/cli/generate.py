"""``rnnkit generate DIR``: continue a prompt with a trained language model, streaming."""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli.options import add_config_flags, add_expect_sha256, flag, given
from rnnkit.config import from_dict
from rnnkit.tasks.generate_config import GenerateConfig, check_stop
from rnnkit.tasks.lm_inference import load_language_model


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
    add_config_flags(parser, GenerateConfig, "generate", "sampling")
    parser.add_argument(
        "--stop", action="append", default=[], help="stop a sample before this string (repeatable)"
    )
    flag(parser, "--device", "cpu | cuda | auto", "cpu")
    add_expect_sha256(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = from_dict(GenerateConfig, given(args, "generate"), "generate")  # before loading
    check_stop(args.stop)
    lm = load_language_model(args.dir, device=args.device, expect_sha256=args.expect_sha256)
    streaming = options.beam == 1 and options.num_samples == 1
    out = sys.stdout

    def show(_index: int, text: str) -> None:
        out.write(text)
        out.flush()

    if streaming:
        lm.prompt_ids(args.prompt)  # a prompt with unknown tokens fails before it is echoed
        out.write(args.prompt)
    texts = lm.generate(
        args.prompt, **options.to_dict(), stop=args.stop, on_text=show if streaming else None
    )
    if streaming:
        out.write("\n")
        return 0
    for index, text in enumerate(texts):
        out.write(f"--- sample {index + 1} ---\n{args.prompt}{text}\n")
    return 0
