"""Environment-variable settings of the chapter 9-12 config modules.

The config modules (`config/*_config.py`) keep the book's names, but read their
paths and sizes from the environment instead of being edited. A script imports
its config with the book's line, whatever the working directory:

```python
from config import tiny_imagenet_config as config
```

The package's `config/__init__.py` puts the examples/ folder on `sys.path` (for
this module and the `*_common.py` modules the chapters share), then imports the
config module inside `exit_on_bad_setting()`, so that a bad environment variable
ends the script with one line.
"""

import contextlib
import os
import sys


def env_int(name, default):
    """A positive integer from the environment variable `name`, or `default` if unset.

    Raises:
        ValueError: the variable is set to anything but a positive integer.
    """
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"environment variable {name} must be a positive integer, got {value!r}.")
    return number


@contextlib.contextmanager
def exit_on_bad_setting():
    """Ends the script with one `[ERROR] ...` line when the body raises ValueError
    (a config module's bad environment variable)."""
    try:
        yield
    except ValueError as error:
        sys.exit(f"[ERROR] {error}")
