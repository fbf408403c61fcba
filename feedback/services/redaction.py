"""PII redaction of feedback text before anything is stored (issue 14).

``redact(text, detectors)`` replaces every span a chosen detector finds with a typed placeholder
(``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``, ``[IP]``, ``[SSN]``, ``[SECRET]``,
``[URL_CREDENTIALS]``) and counts them per type; ``redact_event_texts(value, detectors)`` does
the same for every string leaf of a nested event body (chat messages, context documents,
alternatives) and sums the counts.

Guarantees:

- Only the chosen detectors run (a source picks its own set); the rest of the text is returned
  unchanged, character for character.
- Detectors run in a fixed order, each on the previous one's output, so a span is replaced once:
  URL credentials before emails (``user:pw@host`` is not an address), secrets before numbers,
  IBANs, cards, SSNs and IPs before phones (libphonenumber would read their digits as numbers).
  Placeholders hold no digit, ``@`` or ``:`` for a later detector to find.
- Time is linear in the text's length (every pattern is bounded; see ``redaction_detectors``).
- The original text is never logged and never put in an exception's message: a refused value
  is described by its type and path only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.conf import settings

from annotation.services.errors import ConcordError
from feedback.services import redaction_detectors as detect


class PiiType(StrEnum):
    """A kind of personal data or secret; its placeholder is ``[NAME]`` in upper case."""

    URL_CREDENTIALS = "url_credentials"
    SECRET = "secret"  # noqa: S105 (a type name, not a password)
    EMAIL = "email"
    IBAN = "iban"
    CARD = "card"
    SSN = "ssn"
    IP = "ip"
    PHONE = "phone"

    @property
    def placeholder(self) -> str:
        return f"[{self.name}]"


# Run order (see the module docstring); every type is in it exactly once.
_DETECTORS: dict[PiiType, detect.Detector] = {
    PiiType.URL_CREDENTIALS: detect.url_credentials,
    PiiType.SECRET: detect.secret,
    PiiType.EMAIL: detect.email,
    PiiType.IBAN: detect.iban,
    PiiType.CARD: detect.card,
    PiiType.SSN: detect.ssn,
    PiiType.IP: detect.ip,
    PiiType.PHONE: detect.phone,
}
ALL: frozenset[PiiType] = frozenset(PiiType)
# These find nothing in a text without an ASCII digit; placeholders hold none, so a text that
# starts without one never gains one.
_NEED_A_DIGIT = frozenset({PiiType.IBAN, PiiType.CARD, PiiType.SSN, PiiType.PHONE})
_DIGITS = "0123456789"
MAX_DEPTH = 32


class RedactionRefused(ConcordError):
    """A value redaction cannot walk (a depth over ``MAX_DEPTH``, an unknown detector name)."""

    default_detail = "The text could not be redacted."


@dataclass(frozen=True)
class Redacted:
    """Redacted text and how many spans of each type were replaced (types with none absent)."""

    text: str
    counts: dict[PiiType, int] = field(default_factory=dict)


def detector_set(names: Collection[str]) -> frozenset[PiiType]:
    """Names (``"email"``, ``"phone"`` …) as types; an unknown name is refused, naming it."""
    known = {t.value for t in PiiType}
    unknown = sorted(str(n) for n in names if n not in known)
    if unknown:
        raise RedactionRefused(
            [
                {
                    "field": "detectors",
                    "message": f"Unknown detector {n!r}; known: {', '.join(sorted(known))}.",
                }
                for n in unknown
            ]
        )
    return frozenset(PiiType(n) for n in names)


def redact(
    text: str, detectors: Collection[str] = ALL, *, phone_region: str | None = None
) -> Redacted:
    """Replace every span the chosen detectors find with its placeholder.

    ``phone_region`` is the ISO country whose national phone formats are recognised (numbers
    written with ``+`` and a country code are found whatever it is); ``None`` reads
    ``settings.CONCORD_FEEDBACK_PHONE_REGION``.
    """
    if not isinstance(text, str):
        raise RedactionRefused(
            [{"field": "text", "message": f"Expected a string, got {type(text).__name__}."}]
        )
    # A set of known types (what ingest passes for every text) needs no check by name.
    if isinstance(detectors, frozenset) and detectors <= ALL:
        chosen = detectors
    else:
        chosen = detector_set(detectors)
    region = phone_region if phone_region is not None else settings.CONCORD_FEEDBACK_PHONE_REGION
    counts: dict[PiiType, int] = {}
    if not any(digit in text for digit in _DIGITS):
        chosen = chosen - _NEED_A_DIGIT
    for pii_type, run in _DETECTORS.items():
        if pii_type not in chosen or not text:
            continue
        text, found = run(text, region)
        if found:
            counts[pii_type] = found
    return Redacted(text, counts)


def redact_event_texts(
    value: Any, detectors: Collection[str] = ALL, *, phone_region: str | None = None
) -> tuple[Any, dict[PiiType, int]]:
    """Redact every string leaf of ``value`` (dicts' values, lists, tuples); sum the counts.

    Keys, numbers, booleans and ``None`` are returned as they are; the structure is copied, never
    changed in place. Nesting deeper than ``MAX_DEPTH`` is refused with the path, not the text.
    """
    chosen = detector_set(detectors)
    total: Counter[PiiType] = Counter()

    def walk(node: Any, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise RedactionRefused(
                [{"field": path or "value", "message": f"Nested deeper than {MAX_DEPTH} levels."}]
            )
        if isinstance(node, str):
            result = redact(node, chosen, phone_region=phone_region)
            total.update(result.counts)
            return result.text
        if isinstance(node, Mapping):
            return {
                k: walk(v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in node.items()
            }
        if isinstance(node, list | tuple):
            items = [walk(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node)]
            return type(node)(items) if isinstance(node, tuple) else items
        return node

    redacted = walk(value, "", 0)
    return redacted, dict(total)
