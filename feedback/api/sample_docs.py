"""The OpenAPI description of a feedback sample request, as JSON Schema with an example.

Written as JSON Schema, like the ingest batch (:mod:`feedback.api.event_docs`), because the body
is read by the service (:mod:`feedback.services.sample_requests`), not a serializer: a text or
a list of texts, and objects closed to unknown keys, say exactly what the service takes.
"""

from typing import Any

from feedback.api.event_docs import FLAG, _closed
from feedback.api.schema_bodies import documented_body
from feedback.services.event_reader import THUMBS
from feedback.services.event_schema import OUTCOMES
from feedback.services.sample_requests import (
    MAX_LISTED,
    MAX_SAMPLE_ITEMS,
    MAX_SEED,
    STRATA_FIELDS,
)

SHORT_TEXT = {"type": "string", "maxLength": 200}


def _texts(text: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "oneOf": [
            text,
            {"type": "array", "items": text, "minItems": 1, "maxItems": MAX_LISTED},
        ],
    }


MOMENT = {"type": "string", "format": "date-time"}
SIGNALS = _closed(
    {
        "thumb": {"type": "string", "enum": list(THUMBS)},
        "reasked": FLAG,
        "escalated": FLAG,
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "stars_at_most": {"type": "integer", "minimum": 1, "maximum": 5},
    }
)
FILTERS = _closed(
    {
        "source": _texts(
            {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
            "A source's slug or a list of them; default: every source you lead.",
        ),
        "since": {**MOMENT, "description": "Occurred at or after (a date alone: midnight UTC)."},
        "until": {**MOMENT, "description": "Occurred before; later than since."},
        "model_version": _texts(SHORT_TEXT, "The events' model version(s)."),
        "stratum": _texts(SHORT_TEXT, "The events' stratum (or strata)."),
        "signals": SIGNALS,
    }
)
STRATA = _closed(
    {
        "field": {"type": "string", "enum": list(STRATA_FIELDS), "default": "stratum"},
        "weights": {
            "type": "object",
            "description": "Stratum -> weight; only these strata are drawn, their targets "
            "splitting n by largest remainder. Without weights, n is split equally over the "
            "strata present.",
            "minProperties": 1,
            "maxProperties": MAX_LISTED,
            "propertyNames": {"maxLength": 200},
            # OpenAPI 3.0: exclusiveMinimum/Maximum are flags on minimum/maximum.
            "additionalProperties": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 1e9,
                "exclusiveMaximum": True,
            },
        },
        "redistribute": {
            **FLAG,
            "default": False,
            "description": "Give a stratum's shortfall to the strata that still have events "
            "(default: report it and keep the proportions).",
        },
    }
)
SAMPLE_REQUEST = _closed(
    {
        "sprint": {"type": "integer", "description": "A sprint you lead."},
        "filters": FILTERS,
        "n": {"type": "integer", "minimum": 1, "maximum": MAX_SAMPLE_ITEMS},
        "strata": STRATA,
        "seed": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_SEED,
            "description": "Default: a random seed, kept with the sample.",
        },
    },
    ["sprint", "n"],
)


FeedbackSampleDrawSerializer = documented_body("FeedbackSampleDraw", SAMPLE_REQUEST)


EXAMPLE_SAMPLE_REQUEST = {
    "sprint": 7,
    "filters": {
        "source": "support-bot",
        "since": "2026-11-01T00:00:00Z",
        "until": "2026-12-01T00:00:00Z",
        "model_version": ["v3", "v4"],
        "signals": {"thumb": "down", "reasked": True},
    },
    "n": 200,
    "strata": {"field": "stratum", "weights": {"billing": 2, "auth": 1}},
    "seed": 42,
}

EXAMPLE_SAMPLE_REPORT = {
    "requested": 200,
    "drawn": 183,
    "items_created": 183,
    "field": "stratum",
    "allocation": "weights",
    "redistribute": False,
    "seed": 42,
    "per_stratum": {
        "auth": {"target": 67, "drawn": 50, "available": 50},
        "billing": {"target": 133, "drawn": 133, "available": 410},
    },
    "skipped": {
        "single_response": 912,
        "duplicate_content": 4,
        "already_in_sprint": 0,
        "purged": 12,
    },
    "outside_strata": 77,
}
