"""The ``rnnkit`` command: parses arguments and calls the Python API, nothing more.

Every command module has ``register(subparsers)``, which adds its parser and sets
``handler``. Errors of rnnkit's own types (bad input, bad data, bad checkpoint) and argument
errors print one line on stderr and exit with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rnnkit import __version__
from rnnkit.cli import (
    evaluate,
    export,
    generate,
    inspect,
    predict,
    similar,
    train_classify,
    train_lm,
)
from rnnkit.errors import RnnkitError
from rnnkit.logs import console_handler


class OneLineParser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="rnnkit",
        description="Recurrent neural networks for text: train, generate, predict, evaluate, inspect.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    commands.required = True
    train = commands.add_parser("train", help="train a model (lm or classify)")
    tasks = train.add_subparsers(dest="task", metavar="TASK", parser_class=OneLineParser)
    tasks.required = True
    train_lm.register(tasks)
    train_classify.register(tasks)
    for module in (generate, predict, evaluate, similar, inspect, export):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    console_handler()  # the library logs; the command line shows its messages on stderr
    if int(os.environ.get("RANK", "0")) > 0:  # torchrun: rank 0 alone talks on the console
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    try:
        return args.handler(args) or 0
    except RnnkitError as exc:
        print(f"rnnkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnnkit generate ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
