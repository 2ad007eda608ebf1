"""``rnnkit evaluate DIR --data PATH``: score a trained model on a file.

Language models: loss, bits per character or perplexity on a text file. Classifiers:
accuracy, macro-F1, per-class precision/recall and the confusion matrix on a labelled file.
Seq2seq models (``--source F --target F``, or ``--source PAIRS.tsv``): sacrebleu BLEU and
chrF of beam-search translations, loss and perplexity.
"""

from __future__ import annotations

import argparse
import json

from rnnkit.cli.options import add_expect_sha256, flag, given
from rnnkit.cli.train_classify import add_column_flags, column_options
from rnnkit.cli.translate import add_seq2seq_flags, evaluate_seq2seq
from rnnkit.errors import invalid
from rnnkit.tasks.language_modeling import LMDataConfig, read_corpus
from rnnkit.tasks.lm_inference import checkpoint_dir, load_language_model
from rnnkit.train.checkpoint import read_config


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="score a trained model on a file")
    parser.add_argument("dir", metavar="DIR", help="run directory or checkpoint directory")
    parser.add_argument(
        "--data", help="text file (language model) or labelled file (classifier); seq2seq: --source"
    )
    add_seq2seq_flags(parser)
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    flag(parser, "--device", "cpu | cuda | auto", "cpu")
    add_expect_sha256(parser)
    add_column_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    task = read_config(checkpoint_dir(args.dir)).get("task")
    if task == "seq2seq":
        return evaluate_seq2seq(args)
    seq2seq_only = [name for name in ("source", "target") if getattr(args, name) is not None]
    seq2seq_only += list(given(args, "decoding"))  # --beam, --length-penalty, ...
    if seq2seq_only:
        name = "--" + seq2seq_only[0].replace("_", "-")
        raise invalid(name, "given", f"--data for a {task!r} model (the seq2seq flags score a"
                      " translation model)")  # fmt: skip
    if args.data is None:
        raise invalid("--data", None, f"a file to score the {task!r} model on")
    if task == "lm":
        lm = load_language_model(args.dir, device=args.device, expect_sha256=args.expect_sha256)
        trained = lm.config["data"]  # a csv/tsv/jsonl file: the text columns of training
        columns = {k: trained[k] for k in ("format", "text_cols", "header") if k in trained}
        metrics = lm.evaluate_text(read_corpus(args.data, LMDataConfig(**columns), "--data"))
        print(
            json.dumps(metrics)
            if args.json
            else "  ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
            )
        )
        return 0
    from rnnkit.tasks.classifier_inference import evaluate_file

    report = evaluate_file(
        args.dir, args.data, device=args.device, expect_sha256=args.expect_sha256,
        **column_options(args),
    )  # fmt: skip
    print(json.dumps(report.to_dict()) if args.json else report.format_table())
    return 0
