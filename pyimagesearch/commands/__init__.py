"""Sub-commands of the `pyimagesearch` command line (see `pyimagesearch.cli`)."""
