"""Prompts to regenerate: the negative events of a source that hold a single response, as rows
the product team feeds to its model to write alternatives.

A row is ``{"event_id", "occurred_at", "prompt", "context", "model": {"name", "version"},
"response": {"id", "text"}, "signals"}``, an event in ingest's own shape (the source is the
one asked for), so a row with ``alternatives`` added can be sent back as it is. The team sends
the event back through ingest with its regenerations as ``alternatives`` (ids other than the
response's), under the same ``event_id``; ingest adds them to the stored event, which then
holds two responses or more, leaves this list, and can be sampled into a sprint.

Negative means a thumb down, a re-ask or a rejected outcome (``signal`` picks one). Events
whose text was purged are left out (nothing to regenerate from), as are events that already
hold an alternative or a correction (``response_count`` above 1).

Guarantees: only a lead of the source (or a superuser) gets rows; a lead of other sources a
404 as if it did not exist, someone who leads none a 403; every check runs before the first
row is read, so a refusal is an error answer, never a cut stream; rows are read in chunks
(``.iterator()``) in ``occurred_at`` order, so memory stays flat whatever the number of
events. Reads only.
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q

from annotation.services.errors import ConcordError
from feedback.models import FeedbackEvent, FeedbackSource
from feedback.services.feedback_access import require_source_lead

NEGATIVE_SIGNALS: dict[str, Q] = {
    "down": Q(thumb=-1),
    "reasked": Q(reasked=True),
    "rejected": Q(outcome="rejected"),
}
CHUNK = 500
FIELDS = (
    "event_id", "occurred_at", "prompt", "context", "model_name", "model_version",
    "response_id", "response", "signals",
)  # fmt: skip


def regeneration_prompts(
    actor: AbstractBaseUser,
    source: FeedbackSource,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    model_version: str | None = None,
    signal: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows (see the module's docstring) of events that occurred in ``[since, until)``,
    of ``model_version`` and with the negative ``signal`` (any of them when ``None``).

    Raises ``ConcordError`` before returning: 404 (field ``source``) unless ``actor`` leads the
    source (403 when they lead none); 400 naming ``signal`` for an unknown signal and
    ``until`` when it is not after ``since``."""
    require_source_lead(actor, source)
    problems = []
    if signal is not None and signal not in NEGATIVE_SIGNALS:
        choices = ", ".join(NEGATIVE_SIGNALS)
        problems.append({"field": "signal", "message": f"must be one of: {choices}."})
    if since is not None and until is not None and until <= since:
        problems.append({"field": "until", "message": "must be after since."})
    if problems:
        raise ConcordError(problems)
    negative = (
        NEGATIVE_SIGNALS[signal]
        if signal is not None
        else NEGATIVE_SIGNALS["down"] | NEGATIVE_SIGNALS["reasked"] | NEGATIVE_SIGNALS["rejected"]
    )
    events = FeedbackEvent.objects.filter(
        negative, source=source, response_count=1, text_purged_at__isnull=True
    )
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    if model_version is not None:
        events = events.filter(model_version=model_version)
    events = events.order_by("occurred_at", "id").values(*FIELDS)
    return _rows(events.iterator(chunk_size=CHUNK))


def _rows(events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for event in events:
        yield {
            "event_id": event["event_id"],
            "occurred_at": event["occurred_at"].isoformat(),
            "prompt": event["prompt"],
            "context": event["context"],
            "model": {"name": event["model_name"], "version": event["model_version"]},
            "response": {"id": event["response_id"], "text": event["response"]},
            "signals": event["signals"],
        }
