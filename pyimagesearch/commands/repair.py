"""Complete a publish that a killed build left unfinished in a data set's folder.

Readers never write: a generator or a build-id check that meets an unfinished
publish (the journal `.pyimagesearch.publish` beside the files) refuses the
folder and names this command. It takes the folder's lock as a build does,
checks the journal (file names inside the folder only, of the kinds the
library writes) and completes its renames and removals: the new set, whole.
"""

HELP = "complete a data set's publish that a killed build left unfinished"


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("folder", metavar="FOLDER", help="the data set's folder (build-dataset's --output)")


def check_paths(args):
    """Checks FOLDER before anything else."""
    from pyimagesearch.commands._paths import require_existing

    require_existing(args.folder, "FOLDER", "data set folder", folder=True)


def run(args):
    """Completes FOLDER's unfinished publish, if any, and says what it did.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: FOLDER is missing, or its journal is refused (it names
            files outside the folder or is malformed; nothing is touched).
        OSError: the folder cannot be written (a read-only mount) or another
            build holds it.
    """
    check_paths(args)
    from pyimagesearch.infra.publish import finish_publish

    if finish_publish(args.folder):
        print(f"[INFO] completed the unfinished publish in {args.folder}: its set is whole")
    else:
        print(f"[INFO] {args.folder} holds no unfinished publish: nothing to do")
    return 0
