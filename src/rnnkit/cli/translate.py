"""``rnnkit translate RUN "text" ...``: translate sentences with a trained seq2seq model.

    rnnkit translate runs/multi30k "Ein Hund rennt durch den Schnee." --beam 5
    rnnkit translate runs/multi30k --file test.de > test.hyp.en
    echo "Zwei Männer spielen Fußball." | rnnkit translate runs/multi30k
    rnnkit translate runs/multi30k "Ein Hund rennt." --plot attention.png
"""

from __future__ import annotations

import argparse
import json

from rnnkit.cli.options import add_config_flags, add_expect_sha256, flag, given
from rnnkit.cli.predict import texts_of
from rnnkit.config import from_dict
from rnnkit.errors import invalid
from rnnkit.tasks.translation import DecodingConfig
from rnnkit.tasks.translation_inference import check_plot_file, load_translator, plot_attention


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "translate",
        help="translate sentences with a trained seq2seq model",
        description="Translate the given sentences, the lines of --file, or stdin; one "
        "translation a line.",
    )
    parser.add_argument("dir", metavar="RUN", help="run directory (its best/) or a checkpoint")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to translate")
    parser.add_argument("--file", metavar="PATH", help="translate each line of this file (.gz too)")
    add_config_flags(parser, DecodingConfig, "decoding", "decoding")
    parser.add_argument("--plot", metavar="PNG",
                        help="save the attention heatmap of the (one) sentence to PNG (or .pdf, "
                        ".svg, ...: the suffix picks the format; the directory must exist; "
                        "needs matplotlib)")  # fmt: skip
    flag(parser, "--device", "cpu | cuda | auto", "cpu")
    add_expect_sha256(parser)
    parser.set_defaults(handler=run, more_positionals="texts")


def run(args: argparse.Namespace) -> int:
    decoding = decoding_of(args)
    plot = None if args.plot is None else check_plot_file("--plot", args.plot)  # before decoding
    translator = load_translator(args.dir, device=args.device, expect_sha256=args.expect_sha256)
    texts = texts_of(args)
    if plot is not None:
        if len(texts) != 1:
            raise invalid("--plot", args.plot, f"one sentence to plot (got {len(texts)})")
        alignment = translator.alignment(texts[0], **decoding.to_dict())
        plot_attention(alignment, plot)
        print(alignment.text)
        return 0
    for line in translator.translate(texts, **decoding.to_dict()):
        print(line)
    return 0


def decoding_of(args: argparse.Namespace) -> DecodingConfig:
    """The decoding flags given on the command line over DecodingConfig's defaults."""
    return from_dict(DecodingConfig, given(args, "decoding"), "decoding")


def add_seq2seq_flags(parser: argparse.ArgumentParser) -> None:
    """``rnnkit evaluate``'s flags for a seq2seq run: --source, --target and the decoding."""
    group = parser.add_argument_group("seq2seq models")
    group.add_argument("--source", metavar="PATH",
                       help="source sentences (or a TSV/CSV of pairs, read as in training)")  # fmt: skip
    group.add_argument("--target", metavar="PATH", help="reference translations aligned with --source")  # fmt: skip
    add_config_flags(parser, DecodingConfig, "decoding", "seq2seq decoding")


# ``rnnkit evaluate``'s flags that a seq2seq run has no use for: (flag, attribute)
NOT_SEQ2SEQ = (("--data", "data"), ("--format", "format"), ("--text-col", "text_col"),
               ("--label-col", "label_col"), ("--no-header", "no_header"), ("--classes", "classes"))  # fmt: skip


def evaluate_seq2seq(args: argparse.Namespace) -> int:
    """Print BLEU, chrF, loss and perplexity of a seq2seq run on --source/--target.

    The flags of language models and classifiers (--data and the column flags) are refused.
    """
    for name, attribute in NOT_SEQ2SEQ:
        value = getattr(args, attribute)
        if value not in (None, False):
            raise invalid(name, value, "--source (and --target) for a seq2seq model, which "
                          "reads pairs as in training: no --data or column flags")  # fmt: skip
    if args.source is None:
        raise invalid("--source", None, "source sentences (and --target references) to score")
    decoding = decoding_of(args)
    translator = load_translator(args.dir, device=args.device, expect_sha256=args.expect_sha256)
    metrics = translator.evaluate_files(args.source, args.target, decoding)
    if args.json:
        print(json.dumps(metrics))
    else:
        print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))  # fmt: skip
    return 0
