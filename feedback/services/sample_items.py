"""Turning a sampled feedback event into one line of annotation's import (the single door that
creates items): its content key, its responses and the metadata annotators never see.

An item's responses are the event's response, its alternatives and the user's correction, each
non-empty text once. Their keys are neutral (``a``, ``b``, ``c`` … in an order fixed by a digest
of the texts), never the event's own ids: annotators see response keys (the API's ``id``, the
page's ``data-response-id``), and a key ``correction`` or a correction always in last place
would tell them which answer the user wrote. The event's id of each response (``correction``
for the correction) and its model stay in the response's model fields and metadata, which are
not served to annotators (``annotation.services.serving``).

Two events with the same prompt and the same set of response texts are the same content: one
item, ``external_id`` ``fb-`` and the first 24 hex digits of that content's SHA-256, whatever
the order of the responses or the events' other fields.
"""

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from annotation.services.imports.errors import RowError
from annotation.services.imports.records import parse_row
from feedback.models import FeedbackEvent
from feedback.services.event_schema import CORRECTION_ID

CORRECTION_MODEL = "user-correction"
RESPONSE_KEYS = "abcdefghijklmnopqrstuvwxyz"
CONTEXT_KEYS = ("id", "title", "text", "source")  # the import refuses ``cited``
# The columns a draw reads of a chosen event (never of every candidate).
EVENT_FIELDS = (
    "id", "source__slug", "event_id", "trace_id", "model_name", "model_version", "prompt",
    "context", "response_id", "response", "alternatives", "correction", "stratum",
)  # fmt: skip


@dataclass
class SampledContent:
    """One item to create: its import row and the events it stands for (the first drawn, then
    the duplicates of its content met later in the draw)."""

    external_id: str
    row: dict[str, Any]
    events: list[FeedbackEvent] = field(default_factory=list)

    def import_line(self, sample_id: int, strata_field: str, value: str) -> bytes:
        """The JSONL line of the import, with the provenance of every event it stands for."""
        first = self.events[0]
        metadata = {
            "source": first.source.slug,
            "stratum": first.stratum,
            "feedback": {
                "events": [event.event_id for event in self.events],
                "sources": _unique(event.source.slug for event in self.events),
                "trace_ids": _unique(event.trace_id for event in self.events if event.trace_id),
                "model_versions": _unique(
                    version
                    for response in self.row["responses"]
                    if (version := response.get("model_version"))
                ),
                "sample": {"id": sample_id, "field": strata_field, "value": value},
            },
        }
        return orjson.dumps({**self.row, "metadata": metadata}) + b"\n"


def responses_of(event: FeedbackEvent) -> list[dict[str, Any]]:
    """The event's distinct non-empty responses as import responses (neutral keys; see the
    module docstring). Fewer than two means the event gives nothing to compare."""
    found: list[tuple[str, str, str, str]] = []  # text, event's id, model name, version
    found.append((event.response, event.response_id, event.model_name, event.model_version))
    for alternative in event.alternatives if isinstance(event.alternatives, list) else []:
        if not isinstance(alternative, dict):
            continue
        model = alternative.get("model")
        name, version = (
            (model.get("name", ""), model.get("version", ""))
            if isinstance(model, dict)
            else (model if isinstance(model, str) else "", "")
        )
        found.append((alternative.get("text"), alternative.get("id", ""), name, version))
    found.append((event.correction, CORRECTION_ID, CORRECTION_MODEL, ""))
    by_text: dict[str, tuple[str, str, str]] = {}
    for text, response_id, name, version in found:
        if isinstance(text, str) and text.strip() and text not in by_text:
            by_text[text] = (str(response_id), str(name or ""), str(version or ""))
    ordered = sorted(by_text, key=lambda text: hashlib.sha256(text.encode()).digest())
    return [
        {
            "id": RESPONSE_KEYS[position] if position < len(RESPONSE_KEYS) else f"r{position}",
            "text": text,
            "model": by_text[text][1][:200],
            "model_version": by_text[text][2][:100],
            "metadata": {"event_response": by_text[text][0]},
        }
        for position, text in enumerate(ordered)
    ]


def content_key(prompt: Any, responses: list[dict[str, Any]]) -> str:
    """SHA-256 of the prompt and the set of response texts."""
    texts = sorted(response["text"] for response in responses)
    return hashlib.sha256(orjson.dumps([prompt, texts])).hexdigest()


def sampled_content(event: FeedbackEvent) -> SampledContent | str:
    """The item ``event`` becomes, or why it cannot be one: ``"single_response"`` (fewer than
    two distinct responses) or ``"unimportable"`` (the import would refuse it, e.g. more
    responses than ``CONCORD_IMPORT_MAX_RESPONSES``)."""
    responses = responses_of(event)
    if len(responses) < 2:
        return "single_response"
    row = {
        "external_id": f"fb-{content_key(event.prompt, responses)[:24]}",
        "prompt": event.prompt,
        "context": _context(event.context),
        "responses": responses,
    }
    try:
        parse_row(row)
    except RowError:
        return "unimportable"
    return SampledContent(row["external_id"], row, [event])


def _context(documents: Any) -> list[dict[str, Any]]:
    """The documents as the import takes them: without ``cited`` (nor any other extra key),
    and without the ones whose text is empty."""
    if not isinstance(documents, list):
        return []
    return [
        {key: doc[key] for key in CONTEXT_KEYS if doc.get(key) is not None}
        for doc in documents
        if isinstance(doc, dict) and isinstance(doc.get("text"), str) and doc["text"].strip()
    ]


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))
