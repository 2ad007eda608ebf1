"""Write docs/cli.md from the CLI's own parsers: ``python docs/make_cli_md.py``.

tests/cli/test_cli_docs.py checks that docs/cli.md equals this output, so the page lists
every command and flag with its help text and default, and never goes stale.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.cli.main import build_parser

HEADER = """# rnnkit command line

Every command prints this help with `--help`. Errors print one line on stderr and exit with
status 2. Ctrl-C exits with 130 and leaves the last checkpoint intact.
This page is generated from the parsers by `python docs/make_cli_md.py`.
"""


def _subcommands(
    parser: argparse.ArgumentParser, prefix: str
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _subcommands(sub, f"{prefix} {name}")
                found.extend(nested or [(f"{prefix} {name}", sub)])
    return found


def _row(action: argparse.Action) -> str:
    names = (
        ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest}`"
    )
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        names += " {" + ", ".join(map(str, action.choices)) + "}"
    text = (action.help or "").replace("%(default)s", str(action.default))
    text = text.replace("|", "\\|").replace("<", "&lt;")
    return f"| {names} | {text} |"


def render() -> str:
    parts = [HEADER]
    for name, parser in _subcommands(build_parser(), "rnnkit"):
        parts.append(f"\n## `{name}`\n")
        if parser.description:
            parts.append(parser.description.strip() + "\n")
        parts.append("\n| argument | meaning |\n|---|---|")
        parts.extend(_row(a) for a in parser._actions if not isinstance(a, argparse._HelpAction))
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "cli.md"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
