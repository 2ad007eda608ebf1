"""``rnnkit train lm``: train a character- or word-level language model on a corpus.

    rnnkit train lm --corpus nietzsche --out runs/nietzsche
    rnnkit train lm --config runs/nietzsche/config.json --out runs/again   # the same run again

Flags are generated from LMDataConfig, LanguageModelConfig and LMTrainerConfig (the one
source of their defaults); this module only parses them and calls the task.
"""

from __future__ import annotations

import argparse

from rnnkit.cli.options import add_config_flags, add_run_flags, build_configs, callbacks
from rnnkit.config import defaults
from rnnkit.data.corpora import BUNDLED
from rnnkit.models.language_model import LanguageModelConfig
from rnnkit.tasks.language_modeling import LMDataConfig, LMTrainerConfig, train_language_model

OWNERS = {"data": LMDataConfig, "model": LanguageModelConfig, "trainer": LMTrainerConfig}


def register(tasks: argparse._SubParsersAction) -> None:
    minutes = defaults(LMTrainerConfig)["minutes"]
    parser = tasks.add_parser(
        "lm",
        help="train a language model (char or word level) on a corpus",
        description="Train a language model by truncated backpropagation through time. "
        f"With no budget flag it trains for {minutes:g} minutes. Bundled corpora: "
        f"{', '.join(BUNDLED)}.",
    )
    add_config_flags(parser, LMDataConfig, "data", "data")
    add_config_flags(parser, LanguageModelConfig, "model", "model", skip=("vocab_size",))
    add_config_flags(parser, LMTrainerConfig, "trainer", "training")
    add_run_flags(parser, out="runs/lm")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configs = build_configs(args, "lm", OWNERS)
    progress = train_language_model(
        args.out, **configs, resume=args.resume, callbacks=callbacks(args)
    )
    print(
        f"done: {progress.step} steps in {progress.elapsed / 60:.1f} min, best val_loss "
        f"{progress.best:.4f}; model in {args.out}/best; try: rnnkit generate {args.out}"
    )
    return 0
