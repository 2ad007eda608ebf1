"""``rnnkit train seq2seq``: train an encoder-decoder with attention on parallel text.

    rnnkit train seq2seq --source multi30k/train.de --target multi30k/train.en \\
        --val-source multi30k/val.de --val-target multi30k/val.en \\
        --test-source multi30k/test_2016_flickr.de --test-target multi30k/test_2016_flickr.en \\
        --attention general --minutes 60 --out runs/multi30k
    rnnkit train seq2seq --source pairs.tsv --attention additive --epochs 10 --out runs/pairs

Flags are generated from TranslationDataConfig, Seq2SeqConfig and Seq2SeqTrainerConfig (the
one source of their defaults); this module only parses them and calls the task.
"""

from __future__ import annotations

import argparse

from rnnkit.cli.options import add_task_flags, build_configs, callbacks, done_line
from rnnkit.config import defaults
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.translation import Seq2SeqTrainerConfig, TranslationDataConfig, train_translator

OWNERS = {"data": TranslationDataConfig, "model": Seq2SeqConfig, "trainer": Seq2SeqTrainerConfig}


def register(tasks: argparse._SubParsersAction) -> None:
    epochs = defaults(Seq2SeqTrainerConfig)["epochs"]
    parser = tasks.add_parser(
        "seq2seq",
        help="train an encoder-decoder with attention on sentence pairs (translation)",
        description="Train a sequence-to-sequence model on two aligned files (line i of each "
        "is one pair, --source and --target) or one two-column TSV/CSV (--source alone); with "
        f"test pairs, score the best checkpoint at the end. With no budget flag it trains for "
        f"{epochs} epochs.",
    )
    add_task_flags(parser, OWNERS, out="runs/seq2seq", skip_model=("proj_size",))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configs = build_configs(args, "seq2seq", OWNERS)
    progress, test = train_translator(
        args.out, **configs, resume=args.resume, callbacks=callbacks(args)
    )
    if test is not None:
        print(f"test ({test['source']}, beam 5): BLEU {test['bleu']:.2f}  chrF {test['chrf']:.2f}")
    print(done_line(args, progress, "val_loss", f"rnnkit translate {args.out} 'text'"))
    return 0
