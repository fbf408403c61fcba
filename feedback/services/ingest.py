"""Ingest: the one door through which a product's feedback events enter Concord.

:func:`ingest_events` takes one batch for one source and guarantees:

- **Each event on its own.** Every event is checked alone (:mod:`feedback.services.event_schema`);
  a rejected event stores nothing and is listed with every problem by index and field, while
  the valid events of the same batch are stored.
- **Redaction before storage.** Every text of an event (prompt, context documents, response,
  alternatives, correction, comment) passes the source's PII detectors before it is written;
  the counts per type are kept on the event. Session and user ids are stored as keyed hashes.
  No text of an event is ever put in a log line, an error or a task payload.
- **Idempotent by ``event_id``.** An event whose id the source already holds stores nothing and
  is reported as a duplicate, however many batches replay it and however many run at once: the
  database's unique index decides, through ``INSERT … ON CONFLICT DO NOTHING`` in ``event_id``
  order (so concurrent overlapping batches never deadlock). The one exception is regeneration:
  a known event sent again with alternatives it does not have yet gains them (``merged``).
- **Production preferences** (a correction, a user's pick) are recorded in the same
  transaction as their events.

On PostgreSQL the rows travel by ``COPY`` into a temporary table and one ``INSERT … SELECT``;
elsewhere (SQLite) by ``bulk_create`` under the database's single writer.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotation.services.errors import ConcordError, Problem
from feedback.models import FeedbackEvent, FeedbackSource
from feedback.services.event_schema import THUMBS, IncomingEvent, read_event
from feedback.services.hashing import id_hash
from feedback.services.production_preferences import record_preferences
from feedback.services.redaction import ALL, PiiType, detector_set, redact


@dataclass
class IngestResult:
    """What became of each event of a batch, by its index in the batch."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    merged: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)

    def as_body(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "merged": self.merged,
            "rejected": self.rejected,
            "redactions": dict(sorted(self.redactions.items())),
        }


class BatchRejected(ConcordError):
    """A batch refused as a whole (not a list, too many events, too large)."""

    default_detail = "The batch was refused."


def check_batch(events: Any) -> Sequence[Any]:
    """The batch's events, or a refusal naming the limit it breaks."""
    if not isinstance(events, list):
        raise BatchRejected("must be a list of events", field="events")
    limit = settings.CONCORD_FEEDBACK_MAX_EVENTS
    if len(events) > limit:
        raise BatchRejected(
            f"holds {len(events)} events; the limit is {limit} a batch "
            "(CONCORD_FEEDBACK_MAX_EVENTS)", status=413, field="events",
        )  # fmt: skip
    return events


def ingest_events(
    source: FeedbackSource, events: Sequence[Any], *, now: datetime.datetime | None = None
) -> IngestResult:
    """Store the valid events of one batch for ``source``; see the module's guarantees."""
    check_batch(events)
    now = now or timezone.now()
    result = IngestResult()
    detectors = detector_set(source.detectors) if source.detectors else ALL
    fresh: dict[str, tuple[int, IncomingEvent, dict[str, int]]] = {}
    repeated: list[tuple[int, str]] = []
    for index, raw in enumerate(events):
        read = read_event(raw, index)
        if isinstance(read, list):
            rejected: dict[str, Any] = {"index": index, "errors": read}
            if isinstance(raw, dict) and isinstance(raw.get("event_id"), str):
                rejected["event_id"] = raw["event_id"][:200]
            result.rejected.append(rejected)
            continue
        if read.event_id in fresh:
            repeated.append((index, read.event_id))
            continue
        counts = redact_event(read, detectors)
        fresh[read.event_id] = (index, read, counts)
    rows = [_row(source, event, counts, now) for _, event, counts in fresh.values()]
    with transaction.atomic():
        inserted = _insert(source, rows)
        known = [key for key in fresh if key not in inserted]
        merged = _merge_alternatives(source, [fresh[key][1] for key in known])
        record_preferences([*inserted.values(), *merged.values()])
    for key, (index, _event, counts) in fresh.items():
        entry = {"index": index, "event_id": key}
        if key in inserted:
            result.accepted.append(entry)
            result.redactions.update(counts)
        elif key in merged:
            result.merged.append(entry)
        else:
            result.duplicates.append(entry)
    result.duplicates.extend({"index": i, "event_id": key} for i, key in repeated)
    result.duplicates.sort(key=lambda entry: entry["index"])
    return result


# Between an event's texts when they are redacted as one: a NUL, which no valid text holds (the
# reader refuses it), between line breaks, which no detector's span crosses.
SEPARATOR = "\n\x00\n"


def redact_event(event: IncomingEvent, detectors: Collection[PiiType]) -> dict[str, int]:
    """Replace PII in every text of ``event`` in place; the counts per type.

    The texts are redacted as one string joined by :data:`SEPARATOR` (one pass of each detector
    an event, not one a text: texts are short and a pass has a fixed cost). No detector's span
    can take in a line break and a NUL, so each text comes out as it would alone; should a
    span ever join two texts (the separator gone), they are redacted one by one instead.
    """
    fields = vars(event)
    slots: list[tuple[dict[str, Any], str]] = []
    if isinstance(event.prompt, str):
        slots.append((fields, "prompt"))
    else:
        slots.extend((message, "content") for message in event.prompt)
    slots.extend((document, key) for document in event.context for key in DOCUMENT_TEXTS)
    slots.append((fields, "response"))
    slots.extend((alternative, "text") for alternative in event.alternatives)
    slots.extend([(fields, "correction"), (fields, "comment")])
    slots = [(holder, key) for holder, key in slots if holder[key]]
    texts = [holder[key] for holder, key in slots]
    if not texts:
        return {}
    region = settings.CONCORD_FEEDBACK_PHONE_REGION
    joined = redact(SEPARATOR.join(texts), detectors, phone_region=region)
    parts = joined.text.split(SEPARATOR)
    counts: Counter[str] = Counter({str(k): v for k, v in joined.counts.items()})
    if len(parts) != len(texts):
        counts.clear()
        parts = []
        for text in texts:
            redacted = redact(text, detectors, phone_region=region)
            counts.update({str(k): v for k, v in redacted.counts.items()})
            parts.append(redacted.text)
    for (holder, key), part in zip(slots, parts, strict=True):
        holder[key] = part
    return dict(counts)


DOCUMENT_TEXTS = ("title", "text", "source")
# The columns ingest writes, in COPY order.
COLUMNS = (
    "source_id", "event_id", "occurred_at", "received_at", "session_hash", "user_hash",
    "trace_id", "model_name", "model_version", "prompt", "context", "response_id", "response",
    "alternatives", "correction", "comment", "signals", "thumb", "stars", "outcome", "reasked",
    "escalated", "stratum", "locale", "segment", "tags", "response_count", "redaction_counts",
)  # fmt: skip
JSON_COLUMNS = frozenset(
    {"prompt", "context", "alternatives", "signals", "tags", "redaction_counts"}
)


def _row(
    source: FeedbackSource, event: IncomingEvent, counts: dict[str, int], now: datetime.datetime
) -> dict[str, Any]:
    signals = event.signals
    return {
        "source_id": source.pk,
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "received_at": now,
        "session_hash": id_hash(source.slug, "session", event.session_id),
        "user_hash": id_hash(source.slug, "user", event.user_id),
        "trace_id": event.trace_id,
        "model_name": event.model_name,
        "model_version": event.model_version,
        "prompt": event.prompt,
        "context": event.context,
        "response_id": event.response_id,
        "response": event.response,
        "alternatives": event.alternatives,
        "correction": event.correction,
        "comment": event.comment,
        "signals": signals,
        "thumb": THUMBS.get(signals.get("thumb", "")),
        "stars": signals.get("stars"),
        "outcome": signals.get("outcome", ""),
        "reasked": signals.get("reasked"),
        "escalated": signals.get("escalated"),
        "stratum": event.stratum,
        "locale": event.locale,
        "segment": event.segment,
        "tags": event.tags,
        "response_count": event.response_count,
        "redaction_counts": counts,
    }


def _insert(source: FeedbackSource, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the rows whose ``event_id`` the source lacks; their ids by ``event_id``."""
    if not rows:
        return {}
    rows.sort(key=lambda row: row["event_id"])
    if connection.vendor == "postgresql":
        return _insert_by_copy(rows)
    keys = [row["event_id"] for row in rows]
    held = set(
        FeedbackEvent.objects.filter(source=source, event_id__in=keys).values_list(
            "event_id", flat=True
        )
    )
    new = [FeedbackEvent(**row) for row in rows if row["event_id"] not in held]
    FeedbackEvent.objects.bulk_create(new, ignore_conflicts=True)
    return dict(
        FeedbackEvent.objects.filter(
            source=source, event_id__in=[event.event_id for event in new]
        ).values_list("event_id", "pk")
    )


def _insert_by_copy(rows: list[dict[str, Any]]) -> dict[str, int]:
    quote = connection.ops.quote_name
    table = quote(FeedbackEvent._meta.db_table)
    columns = ", ".join(quote(name) for name in COLUMNS)
    # Table and column names come from the model; every value travels through COPY.
    create = (
        f"CREATE TEMPORARY TABLE feedback_incoming ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {columns} FROM {table} WITH NO DATA"
    )
    insert = (
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM feedback_incoming "  # noqa: S608
        f"ORDER BY event_id ON CONFLICT (source_id, event_id) DO NOTHING RETURNING event_id, id"
    )
    with connection.cursor() as cursor:
        cursor.execute(create)
        with cursor.cursor.copy(f"COPY feedback_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_json(row[c]) if c in JSON_COLUMNS else row[c] for c in COLUMNS])
        cursor.execute(insert)
        inserted = dict(cursor.fetchall())
        cursor.execute("DROP TABLE feedback_incoming")
    return inserted


def _merge_alternatives(source: FeedbackSource, events: list[IncomingEvent]) -> dict[str, int]:
    """Add to stored events the alternatives (by id) they do not hold yet: regenerations sent
    back for an event. Locks the rows in ``event_id`` order; an event whose text was purged
    gains nothing. Returns the ids of the events that changed."""
    bringing = {event.event_id: event for event in events if event.alternatives}
    if not bringing:
        return {}
    changed: dict[str, int] = {}
    stored = (
        FeedbackEvent.objects.select_for_update()
        .filter(source=source, event_id__in=list(bringing), text_purged_at__isnull=True)
        .order_by("event_id")
        .only("pk", "event_id", "alternatives", "response_id", "correction")
    )
    for row in stored:
        held = {row.response_id, "correction", *(a["id"] for a in row.alternatives)}
        new = [a for a in bringing[row.event_id].alternatives if a["id"] not in held]
        if not new:
            continue
        row.alternatives = [*row.alternatives, *new]
        FeedbackEvent.objects.filter(pk=row.pk).update(
            alternatives=row.alternatives,
            response_count=1 + len(row.alternatives) + (1 if row.correction else 0),
        )
        changed[row.event_id] = row.pk
    return changed


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def problems_of(result: IngestResult) -> list[Problem]:
    """Every problem of the rejected events, flattened for the API's ``errors`` list."""
    return [problem for rejected in result.rejected for problem in rejected["errors"]]
