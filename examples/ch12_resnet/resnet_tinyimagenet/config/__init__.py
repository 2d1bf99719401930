"""The ResNet Tiny ImageNet project's settings: `from config import tiny_imagenet_config as config`.

Importing the package puts the examples/ folder on `sys.path` (settings.py and the
`*_common.py` modules the chapters share), whatever the working directory, and loads
`tiny_imagenet_config`: a bad environment variable ends the script with one line.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
from settings import exit_on_bad_setting  # noqa: E402

with exit_on_bad_setting():
    from . import tiny_imagenet_config  # noqa: E402, F401
