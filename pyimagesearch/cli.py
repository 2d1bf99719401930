"""The ``pyimagesearch`` command line.

Each command lives in a module of ``pyimagesearch.commands`` that defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Command modules import TensorFlow/Keras only inside ``run`` so that
``pyimagesearch --help`` stays instant.
"""

import argparse
import importlib
import sys

from pyimagesearch import __version__
from pyimagesearch.runtime import configure_process

# command name -> module under pyimagesearch.commands
COMMANDS = {
    "demo": "demo",
    "inspect-model": "inspect_model",
    "build-dataset": "build_dataset",
    "extract-features": "extract_features",
    "train-classifier": "train_classifier",
    "rank-accuracy": "rank_accuracy",
}


def build_parser():
    """Builds the top-level parser with one sub-parser per command.

    Returns:
        An `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        prog="pyimagesearch",
        description="The Practitioner Bundle's pipeline on Keras 3.",
    )
    parser.add_argument(
        "--version", action="version", version=f"pyimagesearch {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"pyimagesearch.commands.{module_name}")
        sub = subparsers.add_parser(
            name, help=module.HELP, description=module.__doc__
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv=None):
    """Runs the command line.

    Args:
        argv: arguments without the program name; `sys.argv[1:]` when None.

    Returns:
        The process exit status.
    """
    configure_process()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args._run(args) or 0
    except (ValueError, FileNotFoundError) as error:
        print(f"pyimagesearch {args.command}: error: {error}", file=sys.stderr)
        return 2


def run_main(parser, run, argv=None):
    """Runs a script's `run(args)` on the parsed command line, the examples' `main`.

    Bad input (a `ValueError` or `FileNotFoundError`: a missing dataset, file
    or download) ends the process with one line, `[ERROR] ...`, and exit
    status 1, instead of a traceback.

    Args:
        parser: the script's `argparse.ArgumentParser`.
        run: a function of the parsed arguments.
        argv: arguments without the program name; `sys.argv[1:]` when None.

    Returns:
        What `run` returns.
    """
    configure_process()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"[ERROR] {error}")


if __name__ == "__main__":
    sys.exit(main())
