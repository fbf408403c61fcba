"""The checks :mod:`feedback.services.event_schema` reads an event with: one reader per event
collects every problem, each naming its field as a path into the batch, and never a value it
saw (a key that is not a plain name is not echoed either: it may be personal data)."""

import math
import re
from typing import Any

from django.conf import settings

from annotation.services.errors import Problem

THUMBS = {"up": 1, "down": -1}
MAX_DWELL_SECONDS = 7 * 24 * 3600
# Named in a problem only when it is a plain field name; anything else may be personal data.
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_UNKNOWN_NAMED = 10


class EventReader:
    """Collects the problems of one event; each check returns the clean value or ``None``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.problems: list[Problem] = []
        self.max_chars = settings.CONCORD_FEEDBACK_MAX_TEXT_CHARS

    def fail(self, path: str, message: str) -> None:
        where = f"{self.prefix}.{path}" if path else self.prefix
        self.problems.append({"field": where, "message": message})

    def obj(self, value: Any, path: str, keys: frozenset[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, f"must be an object, not {kind_of(value)}")
            return None
        unknown = sorted(str(k) for k in value if k not in keys)
        named = [key for key in unknown if FIELD_NAME.fullmatch(key)]
        for key in named[:MAX_UNKNOWN_NAMED]:
            self.fail(f"{path}.{key}" if path else key, "is not a known field")
        hidden = len(unknown) - min(len(named), MAX_UNKNOWN_NAMED)
        if hidden:
            # A key that is no plain name may be data (an address, a number): never echoed.
            self.fail(path, f"has {hidden} more unknown field(s), names not shown")
        if unknown:
            self.fail(path, f"known fields: {', '.join(sorted(keys))}")
        return value

    def text(
        self, value: Any, path: str, *, limit: int | None = None, required: bool = False
    ) -> str:
        if value is None:
            if required:
                self.fail(path, "is required")
            return ""
        if not isinstance(value, str):
            self.fail(path, f"must be text, not {kind_of(value)}")
            return ""
        if required and not value.strip():
            self.fail(path, "must not be empty")
        limit = limit or self.max_chars
        if len(value) > limit:
            self.fail(path, f"is {len(value)} characters long; the limit is {limit}")
        elif "\x00" in value:
            self.fail(path, "contains a NUL character (\\u0000), which cannot be stored")
        elif not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                self.fail(path, "contains a lone surrogate (\\ud800-\\udfff), which is not text")
        return value

    def items(self, value: Any, path: str, limit: int) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {kind_of(value)}")
            return []
        if len(value) > limit:
            self.fail(path, f"has {len(value)} entries; the limit is {limit}")
            return []
        return value

    def flag(self, value: Any, path: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        self.fail(path, f"must be true or false, not {kind_of(value)}")
        return None

    def thumb(self, value: Any, path: str) -> str | None:
        if value is None or value in THUMBS:
            return value
        self.fail(path, 'must be "up" or "down"')
        return None

    def stars(self, value: Any, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            self.fail(path, "must be a whole number from 1 to 5")
            return None
        return value

    def seconds(self, value: Any, path: str) -> float | None:
        if value is None:
            return None
        number_ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not number_ok or not math.isfinite(value) or not 0 <= value <= MAX_DWELL_SECONDS:
            self.fail(path, f"must be a number of seconds from 0 to {MAX_DWELL_SECONDS}")
            return None
        return float(value)


def kind_of(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")
