"""The ``rnnkit`` command: parses arguments and calls the Python API, nothing more.

Every command module has ``register(subparsers)``, which adds its parser and sets
``handler``. Errors of rnnkit's own types (bad input, bad data, bad checkpoint) and argument
errors print one line on stderr and exit with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

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
    train_seq2seq,
    translate,
)
from rnnkit.cli.options import ALIASES
from rnnkit.errors import RnnkitError
from rnnkit.logs import console_handler, hold_records
from rnnkit.train import distributed
from rnnkit.validation import show_path

NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*(e[-+]?\d+)?|\.\d+|inf(inity)?|nan)$", re.IGNORECASE)


class OneLineParser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block) and exit status 2.

    ``-inf`` and ``-nan`` count as values, like ``-1``, so ``--lr -inf`` reaches the range
    check and its message instead of "expected one argument".
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

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
    train = commands.add_parser("train", help="train a model (lm, classify or seq2seq)")
    tasks = train.add_subparsers(dest="task", metavar="TASK", parser_class=OneLineParser)
    tasks.required = True
    train_lm.register(tasks)
    train_classify.register(tasks)
    train_seq2seq.register(tasks)
    for module in (generate, predict, translate, evaluate, similar, inspect, export):
        module.register(commands)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; words left over after options join a command's TEXT arguments.

    ``rnnkit predict RUN --json "a text"``: argparse stops filling ``TEXT...`` at the first
    option; a command that sets ``more_positionals`` takes the later words too.
    """
    bad = next((a for a in argv if re.search("[\ud800-\udfff]", a)), None)
    if bad is not None:  # undecodable bytes in a command-line argument (surrogateescape)
        parser.error(f"argument {bad.encode('utf-8', 'backslashreplace').decode()!r} is not valid UTF-8")
    args, extra = parser.parse_known_args(argv)
    field = getattr(args, "more_positionals", None)
    if extra and field and not any(word.startswith("-") for word in extra):
        setattr(args, field, [*getattr(args, field), *extra])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def flag_message(exc: RnnkitError, argv: Sequence[str]) -> str:
    """The error's message, naming the command-line flag instead of the config field."""
    message = str(exc)
    name = getattr(exc, "argument", None)
    if not name or not message.startswith((f"{name}=", f"{name}: ")):
        return message
    for flag in ("--" + name.replace("_", "-"), *ALIASES.get(name, ())):
        if any(a == flag or a.startswith(flag + "=") for a in argv):
            return flag + message[len(name) :]
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not _standard_streams():
        return 2
    args = parse(build_parser(), argv)
    console_handler()  # the library logs; the command line shows its messages on stderr
    try:
        if distributed.environment().rank > 0:  # torchrun: rank 0 alone talks on the console
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
        with hold_records():  # a command that fails prints its error line alone
            status = args.handler(args) or 0
    except RnnkitError as exc:
        _say(f"rnnkit: error: {flag_message(exc, argv)}")
        return 2
    except KeyboardInterrupt:
        _say("rnnkit: interrupted")
        return 130
    except BrokenPipeError:  # `rnnkit generate ... | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # what the machine refuses: a full disk, a name too long, a device
        where = f"{show_path(exc.filename)}: " if exc.filename else ""
        _say(f"rnnkit: error: {where}{exc.strerror or exc}")
        _silence_stdout_if_broken()
        return 2
    try:
        sys.stdout.flush()  # a full disk behind stdout fails here, not at interpreter exit
    except OSError as exc:
        _say(f"rnnkit: error: standard output: {exc.strerror or exc}")
        _silence_stdout_if_broken()
        return 2
    return status


def _say(line: str) -> None:
    """``line`` on stderr; where stderr cannot be written (a closed descriptor) the exit
    status alone tells."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (nothing left to fail at exit)


def _standard_streams() -> bool:
    """Python sets a closed descriptor's stream to None (``rnnkit ... >&-``). A closed stdin
    reads as empty (as ``< /dev/null``) and a closed stderr discards the messages; a closed
    stdout is refused: False, after saying so on stderr."""
    if sys.stdin is None:
        sys.stdin = open(os.devnull)  # noqa: SIM115 (for the life of the process)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    if sys.stdout is None:
        _say(
            "rnnkit: error: standard output is closed; expected a writable stdout "
            "(redirect it to /dev/null to discard it)"
        )
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (nothing left to fail at exit)
        return False
    return True


def _silence_stdout_if_broken() -> None:
    """Point stdout at /dev/null if it cannot be written, so that the interpreter's flush at
    exit prints no second error."""
    try:
        sys.stdout.flush()
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


if __name__ == "__main__":
    sys.exit(main())
