"""Environment-variable settings of the chapter 9-12 config modules.

The config modules (`config/*_config.py`) keep the book's names, but read their
paths and sizes from the environment instead of being edited. A config module
imports this one by putting the examples/ folder on `sys.path`, as the Tiny
ImageNet scripts do for `tinyimagenet_common.py`:

```python
sys.path.insert(0, EXAMPLES_FOLDER)
from settings import env_int

IMAGE_SIZE = env_int("TINY_IMAGENET_IMAGE_SIZE", 64)
```
"""

import os


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
