"""Runs the N processes of a multi-process training run on this machine.

    pyimagesearch launch -n 2 -- python train.py --batch-size 32 ...

Each process gets `--strategy multiworker --coordinator localhost:PORT
--num-processes N --process-id I` appended; its lines are prefixed with
`[I] `. When one process fails, the others stop (on their own, or after
--grace seconds) and one line names it. Exit status: 0, or 1 when a process
failed.
"""

import argparse

HELP = "run the N processes of a multi-process training run on this machine"


def add_arguments(parser):
    from pyimagesearch.launch import GRACE

    parser.add_argument("-n", "--num-processes", type=int, required=True,
                        help="number of processes to start")
    parser.add_argument("--port", type=int, default=None,
                        help="coordinator port; the run also uses PORT+1 (default: a free pair)")
    parser.add_argument("--grace", type=float, default=GRACE,
                        help="seconds the others get to stop on their own after one process "
                             f"fails (default: {GRACE})")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the command of one process, after --")


def run(args):
    from pyimagesearch.launch import launch

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return launch(command, args.num_processes, port=args.port, grace=args.grace)
