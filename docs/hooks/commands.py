"""MkDocs hook: the page api/commands.md, every command's options as its own parser prints them.

The page is generated from `pyimagesearch.cli.build_parser()` at every build, so
it cannot drift from the code: an option added to a command is on the site the
next time the site is built.
"""

import os
import sys

from mkdocs.structure.files import File

PAGE = "api/commands.md"
WIDTH = "100"  # argparse wraps at $COLUMNS: one width, whatever the terminal that builds the site


def on_files(files, config):
    """Adds the generated page."""
    files.append(File.generated(config, PAGE, content=render()))
    return files


def render():
    """The Markdown page: the top-level usage, then one section per command."""
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        from pyimagesearch.cli import COMMANDS, build_parser

        parser = build_parser()
        commands = next(action for action in parser._actions if action.choices and set(COMMANDS) <= set(action.choices))
        parts = [
            "# Command options",
            "Every option of every `pyimagesearch` command, printed by the command's own parser when "
            "this site was built (the same text as `pyimagesearch COMMAND --help`). The example "
            "scripts answer `--help` the same way; see [Examples](../examples.md).",
            f"```text\n{parser.format_help().rstrip()}\n```",
        ]
        for name in COMMANDS:
            parts.append(f"## {name}")
            parts.append(f"```text\n{commands.choices[name].format_help().rstrip()}\n```")
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    return "\n\n".join(parts) + "\n"
