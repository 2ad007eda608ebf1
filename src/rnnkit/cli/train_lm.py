"""``rnnkit train lm``: train a character- or word-level language model on a corpus."""

from __future__ import annotations

import argparse

from rnnkit.cli.options import add_trainer_flags, default, trainer_config
from rnnkit.data.corpora import BUNDLED
from rnnkit.models.language_model import LanguageModelConfig
from rnnkit.tasks.language_modeling import TRAINER_DEFAULTS, LMDataConfig, train_language_model


def register(tasks: argparse._SubParsersAction) -> None:
    parser = tasks.add_parser(
        "lm",
        help="train a language model (char or word level) on a corpus",
        description="Train a language model by truncated backpropagation through time. "
        "With no budget flag it trains for 10 minutes.",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--corpus",
        default=default(LMDataConfig, "corpus"),
        help=f"bundled corpus ({', '.join(BUNDLED)}) or a text file PATH, plain or .gz (default %(default)s)",
    )
    data.add_argument(
        "--val-corpus",
        default=None,
        help="a separate validation text file (default: the corpus's last --val-fraction)",
    )
    data.add_argument(
        "--level",
        choices=["char", "word"],
        default=default(LMDataConfig, "level"),
        help="token level (default %(default)s)",
    )
    data.add_argument("--lowercase", action="store_true", help="lower-case the corpus first")
    data.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="vocabulary cap incl. <pad>/<unk> (default: all tokens)",
    )
    data.add_argument(
        "--seq-len",
        type=int,
        default=default(LMDataConfig, "seq_len"),
        help="T: backpropagation-through-time steps per window (default %(default)s)",
    )
    data.add_argument(
        "--batch-size",
        type=int,
        default=default(LMDataConfig, "batch_size"),
        help="B: parallel streams per batch (default %(default)s)",
    )
    data.add_argument(
        "--val-fraction",
        type=float,
        default=default(LMDataConfig, "val_fraction"),
        help="held-out tail of the corpus for validation (default %(default)s)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--cell",
        choices=["lstm", "gru", "rnn"],
        default=default(LanguageModelConfig, "cell"),
        help="recurrent cell (default %(default)s)",
    )
    model.add_argument(
        "--layers",
        type=int,
        default=default(LanguageModelConfig, "num_layers"),
        help="stacked recurrent layers (default %(default)s)",
    )
    model.add_argument(
        "--hidden",
        type=int,
        default=default(LanguageModelConfig, "hidden_size"),
        help="hidden units per layer (default %(default)s)",
    )
    model.add_argument(
        "--embed",
        type=int,
        default=default(LanguageModelConfig, "embedding_size"),
        help="embedding size, 0 = one-hot input (default %(default)s)",
    )
    model.add_argument(
        "--dropout",
        type=float,
        default=default(LanguageModelConfig, "dropout"),
        help="dropout on inputs, between layers and before the output (default %(default)s)",
    )
    model.add_argument(
        "--tie-weights",
        action="store_true",
        help="share the embedding with the output layer (needs --embed == --hidden)",
    )
    add_trainer_flags(parser, {"minutes": 10}, out="runs/lm", **TRAINER_DEFAULTS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    data = LMDataConfig(
        corpus=args.corpus, val_corpus=args.val_corpus, level=args.level, lowercase=args.lowercase, max_tokens=args.max_tokens,
        seq_len=args.seq_len, batch_size=args.batch_size, val_fraction=args.val_fraction,
    )  # fmt: skip
    model = {
        "cell": args.cell, "num_layers": args.layers, "hidden_size": args.hidden,
        "embedding_size": args.embed, "dropout": args.dropout, "tie_weights": args.tie_weights,
    }  # fmt: skip
    progress = train_language_model(args.out, data, model, trainer_config(args), resume=args.resume)
    print(
        f"done: {progress.step} steps in {progress.elapsed / 60:.1f} min, best val_loss "
        f"{progress.best:.4f}; model in {args.out}/best; try: rnnkit generate {args.out}"
    )
    return 0
