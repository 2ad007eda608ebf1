"""``rnnkit train lm``: train a character- or word-level language model on a corpus."""

from __future__ import annotations

import argparse

from rnnkit.cli.options import (
    add_recurrent_flags,
    add_trainer_flags,
    field_flag,
    pin_line,
    trainer_config,
)
from rnnkit.data.corpora import BUNDLED
from rnnkit.models.language_model import LanguageModelConfig
from rnnkit.tasks.language_modeling import (
    LEVELS,
    TRAINER_DEFAULTS,
    LMDataConfig,
    train_language_model,
)


def register(tasks: argparse._SubParsersAction) -> None:
    parser = tasks.add_parser(
        "lm",
        help="train a language model (char or word level) on a corpus",
        description="Train a language model by truncated backpropagation through time. "
        "With no budget flag it trains for 10 minutes.",
    )
    data = parser.add_argument_group("data")
    bundled = ", ".join(BUNDLED)
    for name, field, help, kwargs in (
        ("--corpus", "corpus", f"bundled corpus ({bundled}) or a text file PATH, plain or .gz", {}),
        ("--level", "level", "token level", {"choices": LEVELS}),
        ("--seq-len", "seq_len", "T: backpropagation-through-time steps per window", {"type": int}),
        ("--batch-size", "batch_size", "B: parallel streams per batch", {"type": int}),
        ("--val-fraction", "val_fraction", "held-out tail of the corpus for validation", {"type": float}),
    ):  # fmt: skip
        field_flag(data, name, LMDataConfig, field, help, **kwargs)
    data.add_argument(
        "--val-corpus",
        help="a separate validation text file (default: the corpus's last --val-fraction)",
    )
    data.add_argument("--lowercase", action="store_true", help="lower-case the corpus first")
    data.add_argument(
        "--max-tokens", type=int, help="vocabulary cap incl. <pad>/<unk> (default: all tokens)"
    )
    model = parser.add_argument_group("model")
    add_recurrent_flags(model, LanguageModelConfig, "hidden units per layer")
    for name, field, help, kind in (
        ("--embed", "embedding_size", "embedding size, 0 = one-hot input", int),
        ("--dropout", "dropout", "dropout on inputs, between layers and before the output", float),
    ):  # fmt: skip
        field_flag(model, name, LanguageModelConfig, field, help, type=kind)
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
    print(pin_line(args.out))
    return 0
