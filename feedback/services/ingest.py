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
from feedback.models import ErasedEvent, FeedbackEvent, FeedbackSource
from feedback.models.sources import MAX_RETENTION_DAYS
from feedback.services.event_schema import (
    CORRECTION_ID,
    MAX_ALTERNATIVES,
    MAX_ID,
    IncomingEvent,
    read_event,
)
from feedback.services.hashing import id_hash
from feedback.services.ingest_merge import (
    merge_known_events,
    placeholder_counts,
    signal_columns,
)
from feedback.services.production_preferences import (
    record_preferences,
    record_preferences_of,
)
from feedback.services.redaction import ALL, PiiType, detector_set, redact


@dataclass
class IngestResult:
    """What became of each event of a batch, by its index in the batch."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    merged: list[dict[str, Any]] = field(default_factory=list)
    erased: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)

    def as_body(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "merged": self.merged,
            "erased": self.erased,
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
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            if isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID:
                rejected["event_id"] = event_id
            result.rejected.append(rejected)
            continue
        counts = redact_event(read, detectors)
        if read.event_id in fresh:
            _fold_copy(fresh[read.event_id], read, counts)
            repeated.append((index, read.event_id))
            continue
        fresh[read.event_id] = (index, read, counts)
    for key in erased_event_ids(source, list(fresh)):
        index, _event, _counts = fresh.pop(key)
        result.erased.append({"index": index, "event_id": key})
    rows = [_row(source, event, counts, now) for _, event, counts in fresh.values()]
    with transaction.atomic():
        inserted = _insert(source, rows)
        known = [fresh[key][1] for key in fresh if key not in inserted]
        merge = merge_known_events(source, known)
        by_id = {row["event_id"]: row for row in rows}
        record_preferences_of(
            (pk, row["response_id"], row["response"], row["correction"], row["alternatives"],
             row["signals"])
            for key, pk in inserted.items()
            if (row := by_id[key])["text_purged_at"] is None
        )  # fmt: skip
        record_preferences(merge.changed.values())
    for key, (index, _event, counts) in fresh.items():
        entry = {"index": index, "event_id": key}
        if key in inserted:
            result.accepted.append(entry)
            result.redactions.update(counts)
        elif key in merge.changed:
            result.merged.append(entry)
        elif key in merge.refused:
            name, message = merge.refused[key]
            problem = {"field": f"events[{index}].{name}", "message": message}
            result.rejected.append({**entry, "errors": [problem]})
        else:
            result.duplicates.append(entry)
    result.redactions.update(merge.redactions)
    result.duplicates.extend({"index": i, "event_id": key} for i, key in repeated)
    for listed in (result.duplicates, result.rejected, result.erased):
        listed.sort(key=lambda entry: entry["index"])
    return result


def _fold_copy(
    first: tuple[int, IncomingEvent, dict[str, int]], copy: IncomingEvent, counts: dict[str, int]
) -> None:
    """The same ``event_id`` twice in one batch: the first copy is the event, and it takes the
    later copy's alternatives it lacks (up to the limit), as a replay in a later batch would."""
    _index, event, first_counts = first
    held = {event.response_id, CORRECTION_ID, *(a["id"] for a in event.alternatives)}
    new = [a for a in copy.alternatives if a["id"] not in held]
    if new and len(event.alternatives) + len(new) <= MAX_ALTERNATIVES:
        event.alternatives.extend(new)
        first_counts.update(placeholder_counts([a["text"] for a in new]))


def erased_event_ids(source: FeedbackSource, event_ids: list[str]) -> set[str]:
    """Those of ``event_ids`` that were erased at a person's request (never stored again)."""
    if not event_ids:
        return set()
    by_key = {id_hash(source.slug, "event", event_id): event_id for event_id in event_ids}
    found = ErasedEvent.objects.filter(source=source, event_key__in=list(by_key))
    return {by_key[key] for key in found.values_list("event_key", flat=True)}


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
    "text_purged_at",
)  # fmt: skip
JSON_COLUMNS = frozenset(
    {"prompt", "context", "alternatives", "signals", "tags", "redaction_counts"}
)


def _row(
    source: FeedbackSource, event: IncomingEvent, counts: dict[str, int], now: datetime.datetime
) -> dict[str, Any]:
    signals = event.signals
    row = {
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
        **signal_columns(signals),
        "stratum": event.stratum,
        "locale": event.locale,
        "segment": event.segment,
        "tags": event.tags,
        "response_count": event.response_count,
        "redaction_counts": counts,
        "text_purged_at": None,
    }
    retention = datetime.timedelta(days=min(source.retention_days, MAX_RETENTION_DAYS))
    if event.occurred_at < now - retention:
        # Already past the source's retention: stored as the purge would leave it.
        row.update(
            prompt=None, context=[], response="", correction="", comment="", text_purged_at=now,
            alternatives=[{**a, "text": ""} for a in event.alternatives],
        )  # fmt: skip
    return row


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


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


MAX_LISTED_PROBLEMS = 100


def problems_of(result: IngestResult) -> list[Problem]:
    """The problems of the rejected events, flattened for the API's ``errors`` list (the first
    ``MAX_LISTED_PROBLEMS``; ``rejected`` has them all, by event)."""
    flat = [problem for rejected in result.rejected for problem in rejected["errors"]]
    return flat[:MAX_LISTED_PROBLEMS]
