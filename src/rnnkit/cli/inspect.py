"""``rnnkit inspect DIR --text TEXT``: one HTML page showing what each unit, gate and token does.

::

    rnnkit inspect runs/shakespeare --file sonnet.txt --out sonnet.html --layer 1 --unit 42
    rnnkit inspect runs/imdb --text "a wonderful, moving film" --out review.html
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli.options import add_config_flags, add_expect_sha256, flag, given
from rnnkit.config import from_dict
from rnnkit.data.corpora import load_corpus
from rnnkit.inspect import InspectConfig, inspect, write_html
from rnnkit.validation import check_output_file


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "inspect",
        help="write an HTML page of a model's units, gates and predictions on a text",
        description="Colour a text by any hidden unit's activation, rank units by variance and "
        "by correlation with simple features, show gate saturation, and a language model's "
        "next-token predictions or a classifier's per-token attribution and attention. "
        "The page is one self-contained HTML file.",
    )
    parser.add_argument(
        "dir", metavar="DIR", help="run directory (its best/ checkpoint) or a checkpoint directory"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to inspect")
    source.add_argument("--file", metavar="PATH", help="read the text from this file (plain or .gz)")
    flag(parser, "--out", "HTML file to write", "inspect.html")
    parser.add_argument(
        "--layer", type=int, help="layer shown first, 0-based (default: the top layer)"
    )
    parser.add_argument(
        "--unit", type=int, help="unit shown first (default: the layer's unit of largest variance)"
    )
    add_config_flags(parser, InspectConfig, "inspect", "what is computed")
    flag(parser, "--device", "cpu | cuda | auto", "cpu")
    add_expect_sha256(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = check_output_file("--out", args.out, "an HTML file to write", existing_directory=True)
    config = from_dict(InspectConfig, given(args, "inspect"), "inspect")
    text = load_corpus(args.file) if args.file is not None else args.text
    view = inspect(args.dir, text, config, args.device, args.expect_sha256)
    title = f"rnnkit inspect: {Path(args.dir).resolve().name}"
    write_html(view, out, title, args.layer, args.unit)
    sys.stdout.write(f"wrote {out} ({len(view.tokens)} tokens)\n")
    return 0
