"""The ``pyimagesearch`` command line.

Each command lives in a module of ``pyimagesearch.commands`` that defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Command modules import TensorFlow/Keras only inside ``run`` so that
``pyimagesearch --help`` stays instant.
"""

import argparse
import errno
import importlib
import sys

from pyimagesearch import __version__
from pyimagesearch.runtime import configure_process, import_keras, tensorflow_start_up_filtered

# command name -> module under pyimagesearch.commands
COMMANDS = {
    "demo": "demo",
    "inspect-model": "inspect_model",
    "build-dataset": "build_dataset",
    "extract-features": "extract_features",
    "train-classifier": "train_classifier",
    "rank-accuracy": "rank_accuracy",
    "launch": "launch",
    "repair": "repair",
}


# what a command meets when its inputs or outputs are wrong: a bad value or file
# format (ValueError) or a failed system call (OSError: a missing or existing
# path, no permission, a full disk). Any other exception is a bug: traceback.
EXPECTED_ERRORS = (ValueError, OSError)


def describe_error(error):
    """One sentence for an expected error, naming the path and what to do.

    Args:
        error: an instance of one of `EXPECTED_ERRORS`.

    Returns:
        The sentence, without a trailing newline.
    """
    path = getattr(error, "filename", None)
    code = getattr(error, "errno", None)
    if isinstance(error, OSError) and path is None and code == errno.ENOSPC:
        return "no space left on the device: free some space or write to another disk."
    if not isinstance(error, OSError) or path is None:
        return " ".join(str(error).split()) or type(error).__name__
    path = repr(str(path))
    if code == errno.ENOSPC:
        return f"no space left on the device writing {path}: free some space or write to another disk."
    if code == errno.EROFS:
        return f"{path} is on a read-only file system: choose a writable location."
    if isinstance(error, PermissionError):
        return f"permission denied for {path}: choose a location you may use or change its permissions."
    if isinstance(error, FileExistsError):
        return f"{path} already exists and is in the way: remove it or choose another path."
    if isinstance(error, NotADirectoryError):
        return f"{path}: part of this path is a file, not a folder: choose another path."
    if isinstance(error, IsADirectoryError):
        return f"{path} is a folder, where a file is expected: give a file path."
    if isinstance(error, FileNotFoundError):
        return f"{path}: no such file or folder."
    return f"{path}: {error.strerror or error}."


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
        The process exit status: 0, 2 for bad input or output (one line on
        stderr, `pyimagesearch COMMAND: error: ...`), 130 after Ctrl-C, 143 after SIGTERM.
    """
    configure_process()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from pyimagesearch.infra.signals import (interrupt_status, interrupts_handled,  # after --help
                                             raise_if_interrupted)

    try:
        with interrupts_handled():  # SIGTERM too; never lost under JAX
            status = args._run(args) or 0
            raise_if_interrupted()
        return status
    except KeyboardInterrupt:
        print(f"pyimagesearch {args.command}: interrupted", file=sys.stderr)
        return interrupt_status()
    except EXPECTED_ERRORS as error:
        print(f"pyimagesearch {args.command}: error: {describe_error(error)}", file=sys.stderr)
        return 2


def run_main(parser, run, argv=None, keras=False):
    """Runs a script's `run(args)` on the parsed command line, the examples' `main`.

    Bad input or output (one of `EXPECTED_ERRORS`: a missing dataset, file or
    download, an unwritable or full output) ends the process with one line,
    `[ERROR] ...`, and exit status 1, instead of a traceback; Ctrl-C or
    SIGTERM ends it with `[INFO] interrupted` and status 130 (143 after SIGTERM; see
    `pyimagesearch.infra.signals.interrupts_handled`). Other errors are bugs and keep
    their traceback.

    Args:
        parser: the script's `argparse.ArgumentParser`.
        run: a function of the parsed arguments.
        argv: arguments without the program name; `sys.argv[1:]` when None.
        keras: True for a script with nothing to check before Keras loads:
            Keras is imported once the arguments are parsed, inside
            `pyimagesearch.runtime.tensorflow_start_up_filtered()`, so
            TensorFlow's start-up lines below the log level are not shown.
            A script with paths to check leaves it False and imports Keras
            itself in that block right after its checks (`import_keras()`),
            so that a path mistake is answered at once.

    Returns:
        What `run` returns.
    """
    configure_process()
    args = parser.parse_args(argv)
    if keras:
        with tensorflow_start_up_filtered():  # TensorFlow's start-up lines below the log level
            import_keras()
    from pyimagesearch.infra.signals import (interrupt_status, interrupts_handled,  # after --help
                                             raise_if_interrupted)

    try:
        with interrupts_handled():  # SIGTERM too; never lost under JAX
            result = run(args)
            raise_if_interrupted()
        return result
    except KeyboardInterrupt:
        print("[INFO] interrupted", file=sys.stderr)
        sys.exit(interrupt_status())
    except EXPECTED_ERRORS as error:
        sys.exit(f"[ERROR] {describe_error(error)}")


if __name__ == "__main__":
    sys.exit(main())
