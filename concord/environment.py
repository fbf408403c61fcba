"""Typed readers of environment variables for ``concord/settings.py``.

Each reader takes the variable's name and its default, returns the default when the variable
is unset or blank, and otherwise parses it; a value it cannot use raises
``ImproperlyConfigured`` naming the variable, the value and what is expected, so a
misconfigured process fails at start-up instead of at the first request that needs the knob.
Every ``CONCORD_*`` knob is read through one of these in ``concord/settings.py``
(``tests/test_settings.py`` checks it, and that the README's table lists exactly those).
"""

import os
import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

Number = TypeVar("Number", int, float)

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def raw(name: str) -> str:
    """The variable's value, stripped; empty when unset."""
    return os.environ.get(name, "").strip()


def refuse(name: str, value: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{name} must be {expected}, not {value!r}.")


def env_flag(name: str, default: bool = False) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off``, in any case."""
    value = raw(name).lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise refuse(name, value, "one of 1, true, yes, on, 0, false, no, off")


def _number(
    name: str,
    default: Number,
    parse: Callable[[str], Number],
    kind: str,
    minimum: Number | None,
    maximum: Number | None,
    above: Number | None,
) -> Number:
    value = raw(name)
    if not value:
        return default
    bounds = [
        f"at least {minimum}" if minimum is not None else "",
        f"above {above}" if above is not None else "",
        f"at most {maximum}" if maximum is not None else "",
    ]
    expected = " ".join([kind, " and ".join(bound for bound in bounds if bound)]).strip()
    try:
        number = parse(value)
    except ValueError:
        raise refuse(name, value, expected) from None
    if (
        number != number  # NaN
        or number in (float("inf"), float("-inf"))
        or (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
        or (above is not None and number <= above)
    ):
        raise refuse(name, value, expected)
    return number


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """A whole number (``_`` separators allowed), within the bounds given."""
    return _number(name, default, int, "a whole number", minimum, maximum, None)


def env_float(
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> float:
    """A decimal number, within the bounds given (``above``: strictly greater)."""
    return _number(name, default, float, "a number", minimum, maximum, above)


def env_str(name: str, default: str, *, choices: Collection[str] = (), pattern: str = "") -> str:
    """A word: one of ``choices`` (in any case, returned as spelled there), or matching
    ``pattern``, when given."""
    value = raw(name)
    if not value:
        return default
    if choices:
        spelled = {choice.lower(): choice for choice in choices}
        if value.lower() not in spelled:
            raise refuse(name, value, "one of " + ", ".join(choices))
        value = spelled[value.lower()]
    if pattern and not re.fullmatch(pattern, value):
        raise refuse(name, value, f"of the form {pattern}")
    return value


def env_path(name: str, default: Path) -> Path:
    """A directory path, made absolute (``~`` expanded); the default when unset."""
    value = raw(name)
    return Path(value).expanduser().resolve() if value else Path(default).resolve()


def env_list(name: str, default: list[str]) -> list[str]:
    """Comma-separated words; the default when unset or empty."""
    return [part.strip() for part in raw(name).split(",") if part.strip()] or default


def env_paths(name: str, default: list[str]) -> list[str]:
    """A list of paths, separated by ``os.pathsep`` (``:`` on Linux) or commas."""
    value = raw(name).replace(os.pathsep, ",")
    return [part.strip() for part in value.split(",") if part.strip()] or default
