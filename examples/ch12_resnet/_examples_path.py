"""Puts the examples folder on `sys.path`, whatever the working directory, for the
modules the chapters share (cifar10_common.py): `import _examples_path` first."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
