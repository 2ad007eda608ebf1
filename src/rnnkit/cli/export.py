"""``rnnkit export RUN --format onnx --out model.onnx``: a model for onnxruntime, no PyTorch.

Writes ``model.onnx`` and, beside it, ``model.json`` (vocabulary, tokenizer settings, label
names or start token, input/output names); checks the graph in onnxruntime first. See
docs/export.md for a program that classifies text with only onnxruntime and numpy::

    rnnkit export runs/imdb --out imdb.onnx
    rnnkit export runs/shakespeare --out lm.onnx     # one step: (ids, state) -> (logits, state)
"""

from __future__ import annotations

import argparse

from rnnkit.cli.options import add_expect_sha256, flag
from rnnkit.export import FORMATS, check_out, export


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export a trained model to ONNX (checked in onnxruntime)",
        description="Export a run's best checkpoint (classifier or language model) to ONNX, "
        "with its vocabulary and settings as JSON beside it. Needs pip install \"rnnkit[onnx]\".",
    )
    parser.add_argument(
        "run", metavar="RUN", help="run directory (its best/ checkpoint) or a checkpoint directory"
    )
    flag(parser, "--format", "export format", "onnx", choices=FORMATS)
    flag(parser, "--out", "the .onnx file to write (the JSON goes beside it)", "model.onnx")
    parser.add_argument(
        "--no-check", action="store_true",
        help="skip running the graph in onnxruntime against PyTorch after export",
    )  # fmt: skip
    add_expect_sha256(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_out(args.out, "--out")  # "" is not "."; checked before the run is loaded
    path = export(args.run, args.out, args.format, not args.no_check, args.expect_sha256)
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0
