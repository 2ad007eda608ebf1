"""``rnnkit train classify``: train a text classifier on a labelled file or folder.

    rnnkit train classify --train imdb/train.csv --test imdb/test.csv \\
        --embeddings glove.6B.50d.txt.gz --bidirectional --cell gru --minutes 15 --out runs/imdb
    rnnkit train classify --train ag_news/train.csv --no-header --label-col 0 --text-col 1 2 \\
        --classes ag_news/classes.txt --bidirectional --out runs/ag_news
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli.options import (
    add_recurrent_flags,
    add_trainer_flags,
    default,
    field_flag,
    trainer_config,
)
from rnnkit.data.readers import FORMATS
from rnnkit.models.classifier import POOLINGS, ClassifierConfig
from rnnkit.tasks.classification import (
    BUDGET_DEFAULT,
    CLASS_WEIGHTS,
    TRAINER_DEFAULTS,
    ClassifyDataConfig,
    train_classifier,
)
from rnnkit.text import STANDARDIZERS


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
    parser = tasks.add_parser(
        "classify",
        help="train a text classifier on labelled texts (csv, tsv, jsonl, folder per class)",
        description="Train an RNN text classifier; with --test, score the best checkpoint at the "
        "end. With no budget flag it trains until validation accuracy stops improving for "
        f"--patience epochs, at most {BUDGET_DEFAULT['epochs']} epochs and "
        f"{BUDGET_DEFAULT['minutes']:g} minutes, and keeps the best epoch's weights.",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--train", required=True, metavar="PATH", help="labelled training file or folder"
    )
    data.add_argument(
        "--val",
        metavar="PATH",
        help="validation file (default: hold out --val-fraction of --train)",
    )
    data.add_argument(
        "--test", metavar="PATH", help="test file scored after training (default: none)"
    )
    add_column_flags(parser)
    data.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="count and skip rows without text or label (default: stop at the first)",
    )
    for name, field, help, kwargs in (
        ("--standardize", "standardize", "text clean-up before splitting into words",
         {"choices": [*STANDARDIZERS, "none"]}),
        ("--vocab-size", "vocab_size", "vocabulary cap incl. <pad>/<unk>", {"type": int, "metavar": "N"}),
        ("--max-len", "max_len", "tokens kept per text", {"type": int, "metavar": "N"}),
        ("--truncate", "truncate", "post keeps a long text's start, pre its end",
         {"choices": ["post", "pre"]}),
        ("--batch-size", "batch_size", "texts per training batch", {"type": int, "metavar": "N"}),
        ("--val-fraction", "val_fraction", "share of --train held out without --val",
         {"type": float, "metavar": "P"}),
        ("--class-weights", "class_weights", "balanced weighs class c by n / (C * n_c)",
         {"choices": CLASS_WEIGHTS}),
    ):  # fmt: skip
        field_flag(data, name, ClassifyDataConfig, field, help, **kwargs)
    data.add_argument(
        "--embeddings",
        metavar="PATH",
        default=default(ClassifyDataConfig, "embeddings"),
        help="word vectors: 'default' (GloVe 6B 50d, 50,000 words, bundled), 'none' (random), "
        "or a GloVe / word2vec text or binary file, .gz too (default %(default)s)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--freeze-embeddings",
        action="store_true",
        help="keep the embedding fixed (default: fine-tune it)",
    )
    add_recurrent_flags(model, ClassifierConfig, "hidden units per layer and direction")
    model.add_argument(
        "--embed",
        type=int,
        metavar="N",
        help=f"embedding size (default {default(ClassifierConfig, 'embedding_size')}, "
        "or the vectors' dimension)",
    )
    model.add_argument(
        "--bidirectional",
        action="store_true",
        help="add a reverse direction (default: forward only)",
    )
    for name, field, help, kwargs in (
        ("--pooling", "pooling", "how the outputs become one vector", {"choices": POOLINGS}),
        ("--attention-size", "attention_size", "units of the attention scorer, --pooling attention",
         {"type": int, "metavar": "N"}),
        ("--dropout", "dropout", "dropout between layers and before the output",
         {"type": float, "metavar": "P"}),
        ("--embedding-dropout", "embedding_dropout", "dropout on the embedded words",
         {"type": float, "metavar": "P"}),
        ("--embedding-lr-scale", "embedding_lr_scale",
         "pretrained embedding's learning rate as a fraction of --lr", {"type": float, "metavar": "F"}),
    ):  # fmt: skip
        field_flag(model, name, ClassifierConfig, field, help, **kwargs)
    add_trainer_flags(parser, BUDGET_DEFAULT, out="runs/classify", **TRAINER_DEFAULTS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    data = ClassifyDataConfig(
        train=args.train, val=args.val, test=args.test, format=args.format,
        text_cols=args.text_col, label_col=args.label_col, header=not args.no_header,
        classes=args.classes, skip_bad_rows=args.skip_bad_rows, standardize=args.standardize,
        vocab_size=args.vocab_size, max_len=args.max_len, truncate=args.truncate,
        batch_size=args.batch_size, val_fraction=args.val_fraction,
        class_weights=args.class_weights, embeddings=args.embeddings,
    )  # fmt: skip
    model = {
        "cell": args.cell, "num_layers": args.layers, "hidden_size": args.hidden,
        "bidirectional": args.bidirectional, "dropout": args.dropout,
        "embedding_dropout": args.embedding_dropout, "pooling": args.pooling,
        "attention_size": args.attention_size, "freeze_embeddings": args.freeze_embeddings,
        "embedding_lr_scale": args.embedding_lr_scale,
    } | ({} if args.embed is None else {"embedding_size": args.embed})  # fmt: skip
    progress, _ = train_classifier(args.out, data, model, trainer_config(args), args.resume)
    print(
        f"done: {progress.step} steps in {progress.elapsed / 60:.1f} min, best val_accuracy "
        f"{progress.best:.4f}; model in {args.out}/best; try: rnnkit predict {args.out} 'some text'"
    )
    return 0
