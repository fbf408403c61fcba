"""What any text or JSON value from outside must be before Concord stores it, and the check.

The limits come from what lies downstream, and each broke a door once (a 500 after the
request was accepted):

- no NUL character (``\\u0000``): PostgreSQL refuses it in ``text`` and in ``jsonb``;
- no lone surrogate (``\\ud800``-``\\udfff`` not in a pair): it is not text, and neither orjson
  nor PostgreSQL takes it;
- no more than :data:`MAX_DEPTH` levels of nested arrays and objects: orjson writes at most 254
  and Python's ``json`` recurses once per level;
- every number within ±:data:`MAX_INTEGER` (a signed 64-bit integer's range): orjson writes no
  integer beyond 64 bits, and it reads a larger one as a float, so a bigger number is refused
  whatever its spelling.

The doors ask here: the API's JSON, form and multipart parsers (``annotation.api.parsers``) for
every body, the import for every line's free-form fields, and the services for the text they
are handed by pages and commands. A problem names the field as a dotted path into the body
(``answers.notes``, ``responses[1].metadata``), as the API's 400s do.
"""

import math
from typing import Any

from annotation.services.errors import Problem

MAX_DEPTH = 64
MAX_INTEGER = 2**63 - 1

NUL_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored"
SURROGATE_MESSAGE = "contains a lone surrogate (\\ud800-\\udfff), which is not text"
DEPTH_MESSAGE = f"is nested more than {MAX_DEPTH} levels deep"
NUMBER_MESSAGE = f"holds a number beyond ±{MAX_INTEGER} (a signed 64-bit integer)"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as text, or ``None`` when it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def text_field_problem(text: str, field: str) -> Problem | None:
    """:func:`text_problem` as a problem naming ``field``."""
    message = text_problem(text)
    return None if message is None else {"field": field, "message": message}


def _number_problem(number: int | float) -> str | None:
    if isinstance(number, bool):
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return "holds a number that is not finite"
    if not -MAX_INTEGER <= number <= MAX_INTEGER:
        return NUMBER_MESSAGE
    return None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def value_problem(value: Any, field: str = "", *, depth: int = 0) -> Problem | None:
    """The first problem of a decoded JSON value (``dict``, ``list``, ``str``, numbers, ``bool``,
    ``None``), in document order, or ``None``; ``field`` is the value's own path and ``depth``
    the number of containers around it. A too-deep value is named by the path of its outermost
    container below ``field`` (``answers``, not the 64 indexes inside it). Walks without
    recursion, so any depth a decoder produced is safe to check; costs one step per value."""
    # (value, its path, containers around it, the path of its ancestor just below `field`)
    stack: list[tuple[Any, str, int, str]] = [(value, field, depth, field)]
    while stack:
        item, path, level, top = stack.pop()
        message = None
        if isinstance(item, str):
            message = text_problem(item)
        elif isinstance(item, int | float):
            message = _number_problem(item)
        elif isinstance(item, dict | list):
            if level >= MAX_DEPTH:
                return {"field": top or "body", "message": DEPTH_MESSAGE}
            keyed = item.items() if isinstance(item, dict) else enumerate(item)
            children = []
            for key, child in keyed:
                if isinstance(key, str) and (key_message := text_problem(key)):
                    return {"field": path or "body", "message": f"has a key that {key_message}"}
                child_path = _join(path, key)
                children.append(
                    (child, child_path, level + 1, child_path if level == depth else top)
                )
            stack.extend(reversed(children))
        if message:
            return {"field": path or "body", "message": message}
    return None
