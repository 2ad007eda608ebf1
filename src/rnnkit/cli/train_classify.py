"""``rnnkit train classify``: train a text classifier on a labelled file or folder.

    rnnkit train classify --train imdb/train.csv --test imdb/test.csv \\
        --embeddings glove.6B.50d.txt.gz --bidirectional --cell gru --minutes 15 --out runs/imdb
    rnnkit train classify --train ag_news/train.csv --no-header --label-col 0 --text-col 1 2 \\
        --classes ag_news/classes.txt --bidirectional --out runs/ag_news

Flags are generated from ClassifyDataConfig, ClassifierConfig and ClassifierTrainerConfig
(the one source of their defaults); this module only parses them and calls the task.
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli.options import add_task_flags, build_configs, callbacks, done_line
from rnnkit.config import defaults
from rnnkit.data.readers import FORMATS
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks.classification import (
    ClassifierTrainerConfig,
    ClassifyDataConfig,
    train_classifier,
)
from rnnkit.train.device import resolve_device

OWNERS = {"data": ClassifyDataConfig, "model": ClassifierConfig, "trainer": ClassifierTrainerConfig}


def add_column_flags(parser: argparse.ArgumentParser) -> None:
    """--format, --text-col, --label-col, --no-header, --classes (train classify, evaluate)."""
    group = parser.add_argument_group("columns of a labelled file (evaluate: as in training)")
    group.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="file format (default: from the suffix, .csv/.tsv/.jsonl, .gz too; folder for a directory)",
    )
    group.add_argument(
        "--text-col",
        nargs="+",
        metavar="C",
        default=None,
        help="text column(s) by header name or 0-based index, joined with a space "
        "(default: 'text' with a header, else every column but the label)",
    )
    group.add_argument(
        "--label-col",
        metavar="C",
        default=None,
        help="label column by name or index (default: 'label' with a header, else column 0)",
    )
    group.add_argument(
        "--no-header", action="store_true", help="the first CSV/TSV row is data, not column names"
    )
    group.add_argument(
        "--classes",
        metavar="FILE",
        default=None,
        help="class names, one per line; labels are those names or 1..C (default: the labels)",
    )


def column_options(args: argparse.Namespace) -> dict[str, Any]:
    """The column flags as keyword arguments of ``evaluate_file`` (None = as in training)."""
    return {
        "format": args.format, "text_cols": args.text_col, "label_col": args.label_col,
        "header": False if args.no_header else None, "classes": args.classes,
    }  # fmt: skip


def register(tasks: argparse._SubParsersAction) -> None:
    trainer = defaults(ClassifierTrainerConfig)
    parser = tasks.add_parser(
        "classify",
        help="train a text classifier on labelled texts (csv, tsv, jsonl, folder per class)",
        description="Train an RNN text classifier; with --test, score the best checkpoint at the "
        "end. With no budget flag it trains until validation accuracy stops improving for "
        f"--patience epochs ({trainer['patience']}), at most {trainer['epochs']} epochs and "
        f"{trainer['minutes']:g} minutes, and keeps the best epoch's weights; naming one of "
        "--epochs, --steps, --minutes sets that budget alone.",
    )
    add_task_flags(parser, OWNERS, out="runs/classify")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configs = build_configs(args, "classify", OWNERS)
    resolve_device(configs["trainer"].device)  # no CUDA: one error before the data is read
    progress, report = train_classifier(
        args.out, **configs, resume=args.resume, callbacks=callbacks(args)
    )
    if report is not None:
        print(f"test (best checkpoint):\n{report.format_table()}")
    print(done_line(args, progress, "val_accuracy", f"rnnkit predict {args.out} 'some text'"))
    return 0
