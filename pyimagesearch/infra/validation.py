"""Argument checks shared by the library, in the manner of scikit-learn's `check_scalar`.

Each check returns the value in a plain Python type or raises `ValueError` with one
line naming the argument, what was expected and the value received, e.g.
``bufSize must be a positive integer, got 0.`` A wrong type raises `ValueError`
too (not `TypeError` as in scikit-learn): the library's callers and tests have always
caught `ValueError` for any bad argument.

This module is on the ground floor: it imports nothing from pyimagesearch.
"""

import numbers
import warnings


def check_int(value, name, *, minimum=1, maximum=None, allow_none=False):
    """Checks that `value` is an integer in `[minimum, maximum]`.

    Bools are refused (``True`` is not a count); numpy integers are accepted.

    Args:
        value: the argument to check.
        name: the argument's name, as the caller spells it, for the message.
        minimum: the smallest value accepted.
        maximum: the largest value accepted, or None for no upper bound.
        allow_none: whether None is accepted (and returned).

    Returns:
        `value` as an `int` (None when `allow_none` and `value` is None).

    Raises:
        ValueError: `value` is not an integer or lies outside the bounds; the
            message reads e.g. "batchSize must be a positive integer, got 0.".
    """
    if allow_none and value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or value < minimum or (maximum is not None and value > maximum)):
        expected = _integer_phrase(minimum, maximum)
        if allow_none:
            expected += " or None"
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return int(value)


def check_number(value, name, *, minimum=None, maximum=None,
                 include_minimum=True, include_maximum=True):
    """Checks that `value` is a real number within the given bounds.

    Bools are refused; numpy scalars are accepted; NaN is refused whenever a
    bound is given (it compares false with every bound).

    Args:
        value: the argument to check.
        name: the argument's name, for the message.
        minimum: the lower bound, or None for none.
        maximum: the upper bound, or None for none.
        include_minimum: whether `minimum` itself is accepted.
        include_maximum: whether `maximum` itself is accepted.

    Returns:
        `value` as a `float`.

    Raises:
        ValueError: `value` is not a real number or lies outside the bounds; the
            message reads e.g. "bnMom must be a number in [0, 1), got 1.0.".
    """
    if not _is_real(value) or not _within(value, minimum, maximum, include_minimum, include_maximum):
        expected = _number_phrase(minimum, maximum, include_minimum, include_maximum)
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return float(value)


def check_choice(value, name, choices):
    """Checks that `value` is one of `choices`.

    Args:
        value: the argument to check.
        name: the argument's name, for the message.
        choices: the accepted values; the message shows them as given (pass a
            sorted list or a tuple for a stable message).

    Returns:
        `value`, unchanged.

    Raises:
        ValueError: `value` is not among `choices` (an unhashable `value` included).
    """
    try:
        found = value in choices
    except TypeError:
        found = False
    if not found:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")
    return value


def check_host_port(value, name, *, max_port=65535):
    """Checks that `value` is `HOST:PORT` (an IPv6 host in brackets: `[::1]:PORT`).

    Args:
        value: the address to check.
        name: the argument's name, for the message.
        max_port: the largest port accepted (a run that also uses `port + 1`
            passes 65534).

    Returns:
        `(host, port)`: the host without brackets, the port as an int.

    Raises:
        ValueError: `value` is not a string, has no port, an empty host, an
            IPv6 host without brackets, or a port outside 1..`max_port`.
    """
    problem = None
    if not isinstance(value, str):
        problem = f"not a string but {type(value).__name__}"
        (host, port) = ("", "")
    else:
        (host, separator, port) = value.rpartition(":")
        if not separator:
            problem = "no port"
        elif host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host or "[" in host or "]" in host:
            problem = "an IPv6 host goes in brackets, as in [::1]:PORT"
    if problem is None and not host.strip():
        problem = "an empty host"
    if problem is None and not (port.isascii() and port.isdigit()):
        problem = f"port {port!r} is not a number"
    if problem is None and not 1 <= int(port) <= max_port:
        problem = f"port {int(port)} is outside 1..{max_port}"
    if problem is not None:
        raise ValueError(f"{name} must be HOST:PORT with a port below {max_port + 1}, got {value!r} "
                         f"({problem}).")
    return host, int(port)


def renamed_keyword(old_value, old_name, value, name, default, owner):
    """The value of keyword `name`, which was `old_name` (the old one warns when used).

    Args:
        old_value: what the caller passed as `old_name` (None: not passed).
        old_name: the old, camelCase keyword.
        value: what the caller passed as `name`.
        name: the keyword's name now.
        default: `name`'s default.
        owner: the function's name, for the messages.

    Returns:
        `old_value` when it was passed, else `value`.

    Raises:
        ValueError: both keywords were passed.
    """
    if old_value is None:
        return value
    if value != default:
        raise ValueError(f"{owner}: {name}= and its old name {old_name}= were both given; give {name}= only.")
    warnings.warn(f"{owner}: {old_name}= is now {name}= (the library's new names are snake_case); "
                  f"{old_name}= will be removed.", DeprecationWarning, stacklevel=3)
    return old_value


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _within(value, minimum, maximum, include_minimum, include_maximum):
    above = minimum is None or (value >= minimum if include_minimum else value > minimum)
    below = maximum is None or (value <= maximum if include_maximum else value < maximum)
    return above and below


def _integer_phrase(minimum, maximum):
    if maximum is not None:
        return f"an integer in [{minimum}, {maximum}]"
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return f"an integer >= {minimum}"


def _number_phrase(minimum, maximum, include_minimum, include_maximum):
    if minimum is not None and maximum is not None:
        low = "[" if include_minimum else "("
        high = "]" if include_maximum else ")"
        return f"a number in {low}{minimum}, {maximum}{high}"
    if minimum == 0:
        return "a non-negative number" if include_minimum else "a positive number"
    if minimum is not None:
        return f"a number {'>=' if include_minimum else '>'} {minimum}"
    if maximum is not None:
        return f"a number {'<=' if include_maximum else '<'} {maximum}"
    return "a real number"
