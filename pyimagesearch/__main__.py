"""Entry point for ``python -m pyimagesearch``."""

import sys

from pyimagesearch.infra.signals import interrupt_status, interrupts_handled, raise_if_interrupted

if __name__ == "__main__":
    try:
        with interrupts_handled():  # Ctrl-C or SIGTERM while the command line loads
            from pyimagesearch.cli import main
            raise_if_interrupted()  # one the imports swallowed
    except KeyboardInterrupt:
        print("pyimagesearch: interrupted", file=sys.stderr)
        sys.exit(interrupt_status())
    sys.exit(main())
