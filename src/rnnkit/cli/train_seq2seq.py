"""``rnnkit train seq2seq``: train an encoder-decoder with attention on parallel text.

    rnnkit train seq2seq --source multi30k/train.de --target multi30k/train.en \\
        --val-source multi30k/val.de --val-target multi30k/val.en \\
        --test-source multi30k/test_2016_flickr.de --test-target multi30k/test_2016_flickr.en \\
        --attention general --minutes 60 --out runs/multi30k
    rnnkit train seq2seq --source pairs.tsv --attention additive --epochs 10 --out runs/pairs
"""

from __future__ import annotations

import argparse
import logging

from rnnkit.cli.options import add_trainer_flags, field_flag, trainer_config
from rnnkit.models.seq2seq import ATTENTIONS, CELLS, Seq2SeqConfig
from rnnkit.tasks.translation import (
    BUDGET_DEFAULT,
    TOKENIZERS,
    TRAINER_DEFAULTS,
    TranslationDataConfig,
    train_translator,
)

D = TranslationDataConfig
M = Seq2SeqConfig


def register(tasks: argparse._SubParsersAction) -> None:
    parser = tasks.add_parser(
        "seq2seq",
        help="train an encoder-decoder with attention on sentence pairs (translation)",
        description="Train a sequence-to-sequence model on two aligned files (line i of each "
        "is one pair) or one two-column TSV/CSV. With no budget flag it trains for "
        f"{BUDGET_DEFAULT['epochs']} epochs.",
    )
    data = parser.add_argument_group("data")
    data.add_argument("--source", required=True, metavar="PATH",
                      help="source sentences, one a line (.gz too); or a TSV/CSV of pairs")  # fmt: skip
    for name, help in (
        ("--target", "target sentences aligned with --source (default: --source has both columns)"),
        ("--val-source", "validation source file or pairs (default: hold out --val-fraction)"),
        ("--val-target", "validation target file aligned with --val-source"),
        ("--test-source", "test source file or pairs, scored with beam 5 after training"),
        ("--test-target", "test target file aligned with --test-source"),
    ):
        data.add_argument(name, metavar="PATH", help=help + " (default: none)" * ("default" not in help))  # fmt: skip
    data.add_argument("--format", choices=["tsv", "csv"], default=None,
                      help="format of a one-file pair set (default: from the suffix)")  # fmt: skip
    data.add_argument("--header", action="store_true", help="the first TSV/CSV row names columns")
    data.add_argument("--skip-bad", action="store_true",
                      help="count and skip empty or over-long pairs (default: stop at the first)")  # fmt: skip
    data.add_argument("--lowercase", action="store_true", help="lower-case both sides")
    data.add_argument("--shared-vocab", action="store_true",
                      help="one vocabulary for source and target (default: one each)")  # fmt: skip
    for name, field, help, kwargs in (
        ("--tokenizer", "tokenizer", "word splitting of both sides", {"choices": TOKENIZERS}),
        ("--min-freq", "min_freq", "rarer words become <unk>", {"type": int, "metavar": "N"}),
        ("--max-vocab", "max_vocab", "cap per vocabulary incl. specials", {"type": int, "metavar": "N"}),
        ("--max-len", "max_len", "tokens per side of a training pair; longer ones stop (or --skip-bad)", {"type": int, "metavar": "N"}),
        ("--batch-size", "batch_size", "pairs per training batch", {"type": int, "metavar": "N"}),
        ("--val-fraction", "val_fraction", "share held out without --val-source", {"type": float, "metavar": "P"}),
        ("--label-smoothing", "label_smoothing", "of the training loss", {"type": float, "metavar": "P"}),
        ("--sample-prob", "sample_prob", "scheduled sampling: chance of feeding the model's own token",
         {"type": float, "metavar": "P"}),
    ):  # fmt: skip
        field_flag(data, name, D, field, help, **kwargs)
    model = parser.add_argument_group("model")
    for name, field, help, kwargs in (
        ("--attention", "attention", "additive = Bahdanau; dot, general = Luong", {"choices": ATTENTIONS}),
        ("--cell", "cell", "recurrent cell of encoder and decoder", {"choices": list(CELLS)}),
        ("--layers", "num_layers", "layers of encoder and of decoder", {"type": int}),
        ("--embed", "embedding_size", "embedding size of both sides", {"type": int, "metavar": "N"}),
        ("--encoder-hidden", "encoder_hidden_size", "encoder units per direction", {"type": int, "metavar": "N"}),
        ("--hidden", "hidden_size", "decoder units", {"type": int, "metavar": "N"}),
        ("--attention-size", "attention_size", "units of the additive scorer", {"type": int, "metavar": "N"}),
        ("--dropout", "dropout", "on embeddings, between layers, before the output", {"type": float, "metavar": "P"}),
    ):  # fmt: skip
        field_flag(model, name, M, field, help, **kwargs)
    model.add_argument("--unidirectional", action="store_true",
                       help="forward-only encoder (default: bidirectional)")  # fmt: skip
    model.add_argument("--input-feeding", action="store_true",
                       help="feed the previous attentional state into each decoder step (Luong)")  # fmt: skip
    model.add_argument("--tie-embeddings", action="store_true",
                       help="output layer shares the target embedding (needs --embed == --hidden)")  # fmt: skip
    add_trainer_flags(parser, BUDGET_DEFAULT, out="runs/seq2seq", **TRAINER_DEFAULTS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = D(
        source=args.source, target=args.target, val_source=args.val_source,
        val_target=args.val_target, test_source=args.test_source, test_target=args.test_target,
        format=args.format, header=args.header, skip_bad=args.skip_bad, tokenizer=args.tokenizer,
        lowercase=args.lowercase, shared_vocab=args.shared_vocab, min_freq=args.min_freq,
        max_vocab=args.max_vocab, max_len=args.max_len, batch_size=args.batch_size,
        val_fraction=args.val_fraction, label_smoothing=args.label_smoothing,
        sample_prob=args.sample_prob,
    )  # fmt: skip
    model = {
        "attention": args.attention, "cell": args.cell, "num_layers": args.layers,
        "embedding_size": args.embed, "encoder_hidden_size": args.encoder_hidden,
        "hidden_size": args.hidden, "attention_size": args.attention_size,
        "dropout": args.dropout, "bidirectional": not args.unidirectional,
        "input_feeding": args.input_feeding, "tie_embeddings": args.tie_embeddings,
    }  # fmt: skip
    progress, test = train_translator(args.out, data, model, trainer_config(args), args.resume)
    if test is not None:
        print(f"test ({test['source']}, beam 5): BLEU {test['bleu']:.2f}  chrF {test['chrf']:.2f}")
    print(
        f"done: {progress.step} steps in {progress.elapsed / 60:.1f} min, best val_loss "
        f"{progress.best:.4f}; model in {args.out}/best; try: rnnkit translate {args.out} 'text'"
    )
    return 0
