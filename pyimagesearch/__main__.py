"""Entry point for ``python -m pyimagesearch``."""

import sys

from pyimagesearch.cli import main

if __name__ == "__main__":
    sys.exit(main())
