"""The OpenAPI description of a feedback batch and of the ingest answer, with examples.

Kept beside the views and written as JSON Schema, because the event is read by a hand-written
reader (:mod:`feedback.services.event_schema`) rather than a serializer; a test checks that the
example below is accepted by that reader and that every key the reader knows is described here.
"""

from typing import Any

TEXT = {"type": "string"}
ID = {"type": "string", "minLength": 1, "maxLength": 200}
THUMB = {"type": "string", "enum": ["up", "down"]}
STARS = {"type": "integer", "minimum": 1, "maximum": 5}
FLAG = {"type": "boolean"}
SECONDS = {"type": "number", "minimum": 0, "maximum": 604800}
MODEL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": ID, "version": {"type": "string", "maxLength": 100}},
}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = required
    return schema


MESSAGE = _closed(
    {"role": {"type": "string", "enum": ["system", "user", "assistant", "tool"]}, "content": TEXT},
    ["role", "content"],
)
DOCUMENT = _closed(
    {"id": TEXT, "title": TEXT, "text": TEXT, "source": TEXT, "cited": FLAG}, ["text"]
)
ALTERNATIVE = _closed(
    {
        "id": {"type": "string", "minLength": 1, "maxLength": 100},
        "text": TEXT,
        "model": MODEL,
        "shown": FLAG,
        "signals": _closed(
            {"thumb": THUMB, "stars": STARS, "copied": FLAG, "dwell_seconds": SECONDS}
        ),
    },
    ["id", "text"],
)
SIGNALS = _closed(
    {
        "thumb": THUMB,
        "stars": STARS,
        "outcome": {"type": "string", "enum": ["accepted", "rejected", "corrected"]},
        "correction": TEXT,
        "comment": TEXT,
        "steps": {
            "type": "array",
            "maxItems": 50,
            "items": _closed(
                {
                    "step": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "thumb": THUMB,
                    "stars": STARS,
                },
                ["step"],
            ),
        },
        "picked": TEXT,
        "reasked": FLAG,
        "escalated": FLAG,
        "copied": FLAG,
        "dwell_seconds": SECONDS,
    }
)
EVENT = _closed(
    {
        "event_id": ID,
        "occurred_at": {"type": "string", "format": "date-time"},
        "session_id": {"type": "string", "maxLength": 200},
        "user_id": {"type": "string", "maxLength": 200},
        "trace_id": {"type": "string", "maxLength": 200},
        "model": MODEL,
        "prompt": {
            "oneOf": [TEXT, {"type": "array", "minItems": 1, "maxItems": 200, "items": MESSAGE}]
        },
        "context": {"type": "array", "maxItems": 100, "items": DOCUMENT},
        "response": {"oneOf": [TEXT, _closed({"id": TEXT, "text": TEXT}, ["text"])]},
        "alternatives": {"type": "array", "maxItems": 15, "items": ALTERNATIVE},
        "signals": SIGNALS,
        "metadata": _closed(
            {
                "stratum": {"type": "string", "maxLength": 100},
                "locale": {"type": "string", "maxLength": 35},
                "segment": {"type": "string", "maxLength": 100},
                "tags": {"type": "array", "maxItems": 50, "items": TEXT},
            }
        ),
    },
    ["event_id", "occurred_at", "model", "prompt", "response"],
)
BATCH = _closed(
    {
        "source": {
            "type": "string",
            "description": "The source's slug; optional when the token ingests for one source.",
        },
        "events": {"type": "array", "maxItems": 1000, "items": EVENT},
    },
    ["events"],
)

EXAMPLE_EVENT = {
    "event_id": "chat-7f3a-turn-4",
    "occurred_at": "2026-12-05T10:31:07Z",
    "session_id": "sess-91c2",
    "user_id": "customer-1188",
    "trace_id": "trace-0d9e4b",
    "model": {"name": "support-bot", "version": "2026-11-30"},
    "prompt": [{"role": "user", "content": "How do I move my plan to annual billing?"}],
    "context": [
        {
            "id": "kb-41",
            "title": "Billing periods",
            "text": "Plans can switch to annual ...",
            "source": "https://help.example.com/kb-41",
            "cited": True,
        }
    ],
    "response": {"id": "r1", "text": "Open Settings > Billing and choose Annual."},
    "alternatives": [
        {
            "id": "r2",
            "text": "Contact support to change billing.",
            "shown": True,
            "model": {"name": "support-bot", "version": "2026-12-02"},
        }
    ],
    "signals": {
        "thumb": "down",
        "stars": 2,
        "outcome": "corrected",
        "correction": "Settings > Billing > Period > Annual; the change applies "
        "at the next renewal.",
        "picked": "r1",
        "reasked": True,
        "escalated": False,
        "dwell_seconds": 14.5,
    },
    "metadata": {"stratum": "billing", "locale": "en-GB", "segment": "pro", "tags": ["web"]},
}
EXAMPLE_BATCH = {"source": "support-bot", "events": [EXAMPLE_EVENT]}

_ENTRY = _closed({"index": {"type": "integer"}, "event_id": TEXT}, ["index", "event_id"])
INGEST_ANSWER = _closed(
    {
        "accepted": {"type": "array", "items": _ENTRY},
        "duplicates": {"type": "array", "items": _ENTRY},
        "erased": {
            "type": "array",
            "items": _ENTRY,
            "description": "Events erased earlier at a person's request; never stored again.",
        },
        "merged": {
            "type": "array",
            "items": _ENTRY,
            "description": "Known events that gained alternatives (regenerations).",
        },
        "rejected": {"type": "array", "items": {"type": "object"}},
        "redactions": {"type": "object", "additionalProperties": {"type": "integer"}},
        "detail": TEXT,
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    ["accepted", "duplicates", "merged", "erased", "rejected", "redactions"],
)
