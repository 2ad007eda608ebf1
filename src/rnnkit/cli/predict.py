"""``rnnkit predict DIR TEXT ...``: label and class probabilities of each text.

Texts come from the command line, from ``--file PATH`` (one text per line, plain or .gz), or
from standard input (one per line) when neither is given::

    rnnkit predict runs/imdb "a wonderful film" "dull and far too long"
    rnnkit predict runs/ag_news --file headlines.txt --json > predictions.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.cli.options import add_expect_sha256, flag
from rnnkit.data.readers import file_errors, open_text
from rnnkit.errors import DataError, invalid
from rnnkit.tasks.classifier_inference import load_classifier
from rnnkit.validation import check_input_file, check_int


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "predict",
        help="classify texts with a trained classifier",
        description="Print each text's label and class probabilities. Texts come from the "
        "arguments, --file, or standard input (one text per line).",
    )
    parser.add_argument(
        "dir", metavar="DIR", help="run directory (its best/ checkpoint) or a checkpoint directory"
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    parser.add_argument(
        "--file", metavar="PATH", help="read texts from this file, one per line (plain or .gz)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='write JSON lines {"text", "label", "probabilities"} (default: a table)',
    )
    flag(parser, "--batch-size", "texts read and scored at once", 1000, type=int)
    flag(parser, "--device", "cpu | cuda | auto", "cpu")
    add_expect_sha256(parser)
    parser.set_defaults(handler=run, more_positionals="texts")


def read_lines(path: Path) -> list[str]:
    """Every line of a text file (``.gz`` too) without its line break; non-UTF-8 is a DataError."""
    with file_errors(path), open_text(path) as f:
        return checked_lines(split_lines(f.read()), str(path))


def split_lines(text: str) -> list[str]:
    """``text``'s lines, broken at \n, \r\n and \r only, as the training readers (and
    ``wc -l``) count them: ``str.splitlines`` also breaks at \v, \f, \x1c-\x1e, \x85,
    U+2028 and U+2029, and the answers would no longer line up with the input's lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def stdin_lines() -> list[str]:
    """Every line of standard input, refused as :func:`read_lines` refuses a file's: bytes
    that are not UTF-8, a NUL byte, no line at all (a DataError naming the line)."""
    stream = getattr(sys.stdin, "buffer", None)  # bytes: never decoded with replacements
    raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogatepass")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line, bad = raw.count(b"\n", 0, e.start) + 1, raw[e.start : e.start + 4]
        raise DataError(f"standard input:{line}: bytes {bad!r} are not valid utf-8; expected "
                        "utf-8 text") from None  # fmt: skip
    return checked_lines(split_lines(text), "standard input")


def checked_lines(lines: list[str], where: str) -> list[str]:
    """``lines`` of ``where`` (a file, standard input) unless empty or holding a NUL byte."""
    if not lines:
        raise DataError(f"{where}: empty; expected one text per line")
    binary = next((i for i, line in enumerate(lines, 1) if "\x00" in line), None)
    if binary is not None:
        raise DataError(f"{where}:{binary}: NUL byte (binary data); expected UTF-8 text")
    return lines


def texts_of(args: argparse.Namespace) -> list[str]:
    """The texts to classify: arguments, --file, or standard input."""
    if args.texts and args.file is not None:
        raise invalid("--file", args.file, "either TEXT arguments or --file, not both")
    if args.texts:
        return list(args.texts)
    if args.file is not None:
        return read_lines(check_input_file("--file", args.file, "a text file, one text per line"))
    if sys.stdin.isatty():
        raise invalid("TEXT", None, "texts as arguments, --file PATH, or lines on standard input")
    return stdin_lines()


def run(args: argparse.Namespace) -> int:
    check_int("batch_size", args.batch_size, 1)
    clf = load_classifier(args.dir, device=args.device, expect_sha256=args.expect_sha256)
    texts = texts_of(args)
    width = max(len(name) for name in clf.labels.names)
    for start in range(0, len(texts), args.batch_size):
        chunk = texts[start : start + args.batch_size]
        for text, (label, probs) in zip(chunk, clf.predict(chunk), strict=True):
            if args.json:
                record = {"text": text, "label": label, "probabilities": probs}
                print(json.dumps(record, ensure_ascii=False))
            else:
                shown = " ".join(f"{name}={p:.3f}" for name, p in probs.items())
                print(f"{label:<{width}}  {probs[label]:.3f}  [{shown}]  {text}")
    return 0
