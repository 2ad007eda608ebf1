"""docs/cli.md is the generated page of the current parsers, and every flag has help text."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def load_generator():
    spec = importlib.util.spec_from_file_location("make_cli_md", DOCS / "make_cli_md.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_md_is_up_to_date() -> None:
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == load_generator().render(), (
        "docs/cli.md is stale: run python docs/make_cli_md.py"
    )


def test_every_flag_has_help() -> None:
    generator = load_generator()
    for name, parser in generator._subcommands(generator.build_parser(), "rnnkit"):
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"{name} {action.option_strings or action.dest} has no help"
