"""The shape of one feedback event as a product sends it, and its check.

:func:`read_event` turns one decoded JSON object into a :class:`IncomingEvent` or the list of
every problem it has, each naming its field as a path into the batch
(``events[3].signals.thumb``). Nothing here stores, logs or echoes a text value: a problem says
what is wrong with a field, never what it held, so a rejected event's PII goes nowhere.

Why a hand-written reader rather than a serializer: ingest must keep up with a product's
traffic (the goal is 5,000 events a second through the service), and a DRF serializer costs
more per event than the whole of the rest of the path; the rules are few and plain.

The format (documented with examples in the README and the OpenAPI schema):

- ``event_id`` (text, required, unique per source), ``occurred_at`` (ISO 8601 with a time zone,
  required), ``session_id``, ``user_id`` (text; stored only as keyed hashes), ``trace_id``;
- ``model``: ``{"name", "version"}``, name required;
- ``prompt``: text, or chat messages ``[{"role", "content"}]``;
- ``context``: documents ``[{"id", "title", "text", "source", "cited"}]``;
- ``response``: text, or ``{"id", "text"}``;
- ``alternatives``: ``[{"id", "text", "model", "shown", "signals"}]``, other responses to the
  same prompt (regenerations, or the other side of an A/B pick);
- ``signals``: explicit (``thumb`` up/down, ``stars`` 1-5, ``outcome`` accepted / rejected /
  corrected, ``correction``, ``comment``, ``steps`` ``[{"step", "thumb", "stars"}]``, ``picked``:
  the id of the response the user chose among those shown) and implicit (``reasked``,
  ``escalated``, ``copied``, ``dwell_seconds``);
- ``metadata``: ``stratum``, ``locale``, ``segment``, ``tags``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation.services.errors import Problem
from feedback.services.event_reader import EventReader, kind_of

EVENT_KEYS = frozenset(
    {"event_id", "occurred_at", "session_id", "user_id", "trace_id", "model", "prompt",
     "context", "response", "alternatives", "signals", "metadata"}
)  # fmt: skip
MODEL_KEYS = frozenset({"name", "version"})
MESSAGE_KEYS = frozenset({"role", "content"})
ROLES = frozenset({"system", "user", "assistant", "tool"})
DOCUMENT_KEYS = frozenset({"id", "title", "text", "source", "cited"})
RESPONSE_KEYS = frozenset({"id", "text"})
ALTERNATIVE_KEYS = frozenset({"id", "text", "model", "shown", "signals"})
ALTERNATIVE_SIGNAL_KEYS = frozenset({"thumb", "stars", "copied", "dwell_seconds"})
SIGNAL_KEYS = frozenset(
    {"thumb", "stars", "outcome", "correction", "comment", "steps", "picked", "reasked",
     "escalated", "copied", "dwell_seconds"}
)  # fmt: skip
STEP_KEYS = frozenset({"step", "thumb", "stars"})
METADATA_KEYS = frozenset({"stratum", "locale", "segment", "tags"})
OUTCOMES = ("accepted", "rejected", "corrected")
CORRECTION_ID = "correction"
DEFAULT_RESPONSE_ID = "response"

MAX_ID = 200
MAX_PROBLEMS = 20  # per event: a batch of junk cannot make an answer larger than itself
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
LATEST_AHEAD = datetime.timedelta(days=1)
MAX_MESSAGES = 200
MAX_DOCUMENTS = 100
MAX_ALTERNATIVES = 15
MAX_STEPS = 50
MAX_TAGS = 50


@dataclass
class IncomingEvent:
    """One valid event, as sent (texts not yet redacted, ids not yet hashed)."""

    event_id: str
    occurred_at: datetime.datetime
    session_id: str
    user_id: str
    trace_id: str
    model_name: str
    model_version: str
    prompt: str | list[dict[str, str]]
    context: list[dict[str, Any]]
    response_id: str
    response: str
    alternatives: list[dict[str, Any]]
    correction: str
    comment: str
    signals: dict[str, Any]  # without correction and comment, which have their own columns
    stratum: str = ""
    locale: str = ""
    segment: str = ""
    tags: list[str] = field(default_factory=list)

    @property
    def response_count(self) -> int:
        return 1 + len(self.alternatives) + (1 if self.correction else 0)


def read_event(value: Any, index: int) -> IncomingEvent | list[Problem]:
    """The event at ``events[index]``, or every problem it has (never a text it held)."""
    r = EventReader(f"events[{index}]")
    if not isinstance(value, dict):
        return [
            {"field": f"events[{index}]", "message": f"must be an object, not {kind_of(value)}"}
        ]
    r.obj(value, "", EVENT_KEYS)
    event_id = r.text(value.get("event_id"), "event_id", limit=MAX_ID, required=True)
    occurred_at = _when(r, value.get("occurred_at"))
    session_id = r.text(value.get("session_id"), "session_id", limit=MAX_ID)
    user_id = r.text(value.get("user_id"), "user_id", limit=MAX_ID)
    trace_id = r.text(value.get("trace_id"), "trace_id", limit=MAX_ID)
    model_name, model_version = _model(r, value.get("model"), "model", required=True)
    prompt = _prompt(r, value.get("prompt"))
    context = _context(r, value.get("context"))
    response_id, response = _response(r, value.get("response"))
    alternatives = _alternatives(r, value.get("alternatives"), response_id)
    signals, correction, comment = _signals(r, value.get("signals"), response_id, alternatives)
    stratum, locale, segment, tags = _metadata(r, value.get("metadata"))
    if len(r.problems) > MAX_PROBLEMS:
        more = len(r.problems) - MAX_PROBLEMS
        return [*r.problems[:MAX_PROBLEMS], {"field": r.prefix, "message": f"and {more} more"}]
    if r.problems:
        return r.problems
    return IncomingEvent(
        event_id=event_id, occurred_at=occurred_at, session_id=session_id, user_id=user_id,
        trace_id=trace_id, model_name=model_name, model_version=model_version, prompt=prompt,
        context=context, response_id=response_id, response=response, alternatives=alternatives,
        correction=correction, comment=comment, signals=signals, stratum=stratum,
        locale=locale, segment=segment, tags=tags,
    )  # fmt: skip


def _when(r: EventReader, value: Any) -> datetime.datetime:
    fallback = EARLIEST
    if value is None:
        r.fail("occurred_at", "is required")
        return fallback
    parsed = None
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None:
        r.fail("occurred_at", "must be an ISO 8601 date and time, e.g. 2026-12-05T10:30:00Z")
        return fallback
    if parsed.tzinfo is None:
        r.fail("occurred_at", "must carry a time zone (Z or +01:00)")
        return fallback
    try:
        parsed = parsed.astimezone(datetime.UTC)
    except (OverflowError, ValueError):
        parsed = fallback - datetime.timedelta(days=1)
    latest = timezone.now() + LATEST_AHEAD
    if not EARLIEST <= parsed <= latest:
        r.fail("occurred_at", f"must lie between {EARLIEST:%Y-%m-%d} and a day from now")
        return fallback
    return parsed


def _model(r: EventReader, value: Any, path: str, *, required: bool) -> tuple[str, str]:
    if value is None:
        if required:
            r.fail(path, "is required")
        return "", ""
    model = r.obj(value, path, MODEL_KEYS)
    if model is None:
        return "", ""
    name = r.text(model.get("name"), f"{path}.name", limit=MAX_ID, required=True)
    version = r.text(model.get("version"), f"{path}.version", limit=100)
    return name, version


def _prompt(r: EventReader, value: Any) -> str | list[dict[str, str]]:
    if isinstance(value, str) or value is None:
        return r.text(value, "prompt", required=True)
    messages = r.items(value, "prompt", MAX_MESSAGES)
    if isinstance(value, list) and not value:
        r.fail("prompt", "must hold at least one message")
    clean = []
    for i, message in enumerate(messages):
        path = f"prompt[{i}]"
        if r.obj(message, path, MESSAGE_KEYS) is None:
            continue
        role = message.get("role")
        if role not in ROLES:
            r.fail(f"{path}.role", f"must be one of {', '.join(sorted(ROLES))}")
        content = r.text(message.get("content"), f"{path}.content", required=True)
        clean.append({"role": role, "content": content})
    return clean


def _context(r: EventReader, value: Any) -> list[dict[str, Any]]:
    documents = []
    for i, document in enumerate(r.items(value, "context", MAX_DOCUMENTS)):
        path = f"context[{i}]"
        if r.obj(document, path, DOCUMENT_KEYS) is None:
            continue
        clean = {
            "id": r.text(document.get("id"), f"{path}.id", limit=MAX_ID),
            "title": r.text(document.get("title"), f"{path}.title", limit=1000),
            "text": r.text(document.get("text"), f"{path}.text", required=True),
            "source": r.text(document.get("source"), f"{path}.source", limit=2000),
        }
        cited = r.flag(document.get("cited"), f"{path}.cited")
        if cited is not None:
            clean["cited"] = cited
        documents.append(clean)
    return documents


def _response(r: EventReader, value: Any) -> tuple[str, str]:
    if isinstance(value, str) or value is None:
        return DEFAULT_RESPONSE_ID, r.text(value, "response", required=True)
    response = r.obj(value, "response", RESPONSE_KEYS)
    if response is None:
        return DEFAULT_RESPONSE_ID, ""
    response_id = r.text(response.get("id"), "response.id", limit=100) or DEFAULT_RESPONSE_ID
    if response_id == CORRECTION_ID:
        r.fail("response.id", f'"{CORRECTION_ID}" is reserved for the user\'s correction')
    return response_id, r.text(response.get("text"), "response.text", required=True)


def _alternatives(r: EventReader, value: Any, response_id: str) -> list[dict[str, Any]]:
    seen = {response_id, CORRECTION_ID}
    clean = []
    for i, alternative in enumerate(r.items(value, "alternatives", MAX_ALTERNATIVES)):
        path = f"alternatives[{i}]"
        if r.obj(alternative, path, ALTERNATIVE_KEYS) is None:
            continue
        alt_id = r.text(alternative.get("id"), f"{path}.id", limit=100, required=True)
        if alt_id in seen:
            r.fail(f"{path}.id", "repeats the id of another response of this event")
        seen.add(alt_id)
        name, version = _model(r, alternative.get("model"), f"{path}.model", required=False)
        entry: dict[str, Any] = {
            "id": alt_id,
            "text": r.text(alternative.get("text"), f"{path}.text", required=True),
            "model": {"name": name, "version": version},
            "shown": bool(r.flag(alternative.get("shown"), f"{path}.shown")),
        }
        raw_signals = alternative.get("signals")
        if raw_signals is not None and r.obj(
            raw_signals, f"{path}.signals", ALTERNATIVE_SIGNAL_KEYS
        ):
            entry["signals"] = _drop_none(
                {
                    "thumb": r.thumb(raw_signals.get("thumb"), f"{path}.signals.thumb"),
                    "stars": r.stars(raw_signals.get("stars"), f"{path}.signals.stars"),
                    "copied": r.flag(raw_signals.get("copied"), f"{path}.signals.copied"),
                    "dwell_seconds": r.seconds(
                        raw_signals.get("dwell_seconds"), f"{path}.signals.dwell_seconds"
                    ),
                }
            )
        clean.append(entry)
    return clean


def _signals(
    r: EventReader, value: Any, response_id: str, alternatives: list[dict[str, Any]]
) -> tuple[dict[str, Any], str, str]:
    if value is None:
        return {}, "", ""
    raw = r.obj(value, "signals", SIGNAL_KEYS)
    if raw is None:
        return {}, "", ""
    outcome = raw.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        r.fail("signals.outcome", f"must be one of {', '.join(sorted(OUTCOMES))}")
    correction = r.text(raw.get("correction"), "signals.correction")
    if outcome == "corrected" and not correction.strip():
        r.fail("signals.correction", 'is required when outcome is "corrected"')
    picked = raw.get("picked")
    if picked is not None:
        shown = {response_id} | {a["id"] for a in alternatives if a["shown"]}
        if not isinstance(picked, str) or picked not in shown:
            r.fail("signals.picked", "must be the id of a response that was shown")
    steps = []
    for i, step in enumerate(r.items(raw.get("steps"), "signals.steps", MAX_STEPS)):
        path = f"signals.steps[{i}]"
        if r.obj(step, path, STEP_KEYS) is None:
            continue
        number = step.get("step")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 1000:
            r.fail(f"{path}.step", "must be a whole number from 1 to 1000")
        steps.append(
            _drop_none(
                {
                    "step": number,
                    "thumb": r.thumb(step.get("thumb"), f"{path}.thumb"),
                    "stars": r.stars(step.get("stars"), f"{path}.stars"),
                }
            )
        )
    signals = _drop_none(
        {
            "thumb": r.thumb(raw.get("thumb"), "signals.thumb"),
            "stars": r.stars(raw.get("stars"), "signals.stars"),
            "outcome": outcome if outcome in OUTCOMES else None,
            "steps": steps or None,
            "picked": picked if isinstance(picked, str) else None,
            "reasked": r.flag(raw.get("reasked"), "signals.reasked"),
            "escalated": r.flag(raw.get("escalated"), "signals.escalated"),
            "copied": r.flag(raw.get("copied"), "signals.copied"),
            "dwell_seconds": r.seconds(raw.get("dwell_seconds"), "signals.dwell_seconds"),
        }
    )
    return signals, correction, r.text(raw.get("comment"), "signals.comment")


def _metadata(r: EventReader, value: Any) -> tuple[str, str, str, list[str]]:
    if value is None:
        return "", "", "", []
    raw = r.obj(value, "metadata", METADATA_KEYS)
    if raw is None:
        return "", "", "", []
    tags = [
        r.text(tag, f"metadata.tags[{i}]", limit=100)
        for i, tag in enumerate(r.items(raw.get("tags"), "metadata.tags", MAX_TAGS))
    ]
    return (
        r.text(raw.get("stratum"), "metadata.stratum", limit=100),
        r.text(raw.get("locale"), "metadata.locale", limit=35),
        r.text(raw.get("segment"), "metadata.segment", limit=100),
        tags,
    )


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
