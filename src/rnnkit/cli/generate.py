"""``rnnkit generate DIR``: continue a prompt with a trained language model, streaming."""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli.options import add_config_flags, flag, given
from rnnkit.config import from_dict
from rnnkit.tasks.generate_config import GenerateConfig
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    lm = load_language_model(args.dir, device=args.device)
    options = from_dict(GenerateConfig, given(args, "generate"), "generate")
    streaming = options.beam == 1 and options.num_samples == 1
    out = sys.stdout

    def show(_index: int, text: str) -> None:
        out.write(text)
        out.flush()

    if streaming:
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
