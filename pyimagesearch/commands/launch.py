"""Runs the N processes of a multi-process training run on this machine.

    pyimagesearch launch -n 2 -- python train.py --batch-size 32 ...

Each process gets `--strategy multiworker --coordinator localhost:PORT
--num-processes N --process-id I` appended; its lines are prefixed with
`[I] `. When one process fails, the others stop (on their own, or after
--grace seconds) and one line names it. SIGTERM or SIGINT to the launcher is
forwarded to every process, which checkpoint and exit; those still running
after --stop-grace seconds are killed. Exit status: 0, 1 when a process
failed, 143 after SIGTERM, 130 after SIGINT.
"""

import argparse

HELP = "run the N processes of a multi-process training run on this machine"


def add_arguments(parser):
    from pyimagesearch.distribute.launcher import GRACE, STOP_GRACE

    parser.add_argument("-n", "--num-processes", type=int, required=True,
                        help="number of processes to start")
    parser.add_argument("--port", type=int, default=None,
                        help="coordinator port; the run also uses PORT+1 (default: a free pair)")
    parser.add_argument("--grace", type=float, default=GRACE,
                        help="seconds the others get to stop on their own after one process "
                             f"fails (default: {GRACE})")
    parser.add_argument("--stop-grace", type=float, default=STOP_GRACE,
                        help="seconds the processes get to save a checkpoint and exit after a "
                             "SIGTERM or SIGINT to the launcher, forwarded to them, before they "
                             f"are killed (default: {STOP_GRACE})")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the command of one process, after --")


def run(args):
    from pyimagesearch.distribute.launcher import launch

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return launch(command, args.num_processes, port=args.port, grace=args.grace,
                  stop_grace=args.stop_grace)
