"""Production preferences: pairs that need no labeling, taken from feedback events.

Two signals make a pair (``feedback.models.ProductionPreference``):

- a *correction*: the user's corrected answer is preferred to the response it corrects
  (``chosen_id="correction"``, ``rejected_id`` the event's ``response_id``). A correction whose
  text is the response's own text (after trimming) says nothing and gives no pair;
- a *pick*: ``signals["picked"]`` names the response the user chose among those shown
  together; it is preferred to every other shown response. The event's main response always
  counts as shown; an alternative counts only when its ``shown`` is true, so a regeneration the
  user never saw is never the losing (or winning) side of a pick.

A pair holds ids only; its text is read from the event when it is exported
(:func:`production_pairs`), so purging or erasing an event's text removes its pairs' text too.
Events whose text was purged (``text_purged_at`` set) give no pairs and are never read out.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import connection
from django.utils import timezone

from feedback.models import FeedbackEvent, PreferenceKind, ProductionPreference
from feedback.services.event_schema import CORRECTION_ID

# Events read (and pairs inserted) per statement: the ingest calls with up to 1,000 events.
EVENTS_PER_READ = 1000
PAIRS_PER_INSERT = 1000
# Pairs per chunk when reading pairs out for an export.
PAIRS_PER_CHUNK = 1000

Pair = tuple[str, str, str]  # (kind, chosen_id, rejected_id)
Response = tuple[str, dict[str, str] | None]  # (text, model); no model for a correction


def pairs_of_event(
    *,
    response_id: str,
    response: str,
    correction: str,
    alternatives: Any,
    signals: Any,
) -> list[Pair]:
    """The (kind, chosen_id, rejected_id) pairs one event's signals give, correction first,
    then the pick against each other shown response in the order they were shown."""
    pairs: list[Pair] = []
    if correction.strip() and correction.strip() != response.strip():
        pairs.append((PreferenceKind.CORRECTION.value, CORRECTION_ID, response_id))
    picked = signals.get("picked") if isinstance(signals, dict) else None
    if isinstance(picked, str):
        shown = [response_id] + [
            a["id"]
            for a in (alternatives if isinstance(alternatives, list) else [])
            if isinstance(a, dict) and a.get("shown") is True and isinstance(a.get("id"), str)
        ]
        if picked in shown:
            pairs += [
                (PreferenceKind.PICK.value, picked, other) for other in shown if other != picked
            ]
    return pairs


EventSignals = tuple[int, str, str, str, Any, Any]
# (pk, response_id, response, correction, alternatives, signals)


def record_preferences(event_pks: Iterable[int]) -> int:
    """Store the production preferences of the events with these primary keys; returns how
    many pairs were new.

    Idempotent: a pair already stored (the unique (event, chosen_id, rejected_id)) is left as
    it is, also when two callers record the same event at once, so calling it again after an
    event gained alternatives adds only the new pairs. Purged events and unknown pks give
    nothing. One read of the events and one multi-row insert per 1,000 events."""
    created = 0
    pks = iter(event_pks)
    while batch := list(islice(pks, EVENTS_PER_READ)):
        rows = (
            FeedbackEvent.objects.filter(pk__in=batch, text_purged_at__isnull=True)
            .order_by("pk")  # not the model's ordering, which joins the source to sort
            .values_list("pk", "response_id", "response", "correction", "alternatives", "signals")
        )
        created += record_preferences_of(rows)
    return created


def record_preferences_of(events: Iterable[EventSignals]) -> int:
    """:func:`record_preferences` for events the caller holds as stored (ingest's batch, just
    inserted and not purged), so nothing is read back; the same guarantees."""
    pairs = [
        (pk, *pair)
        for pk, response_id, response, correction, alternatives, signals in events
        for pair in pairs_of_event(
            response_id=response_id,
            response=response,
            correction=correction,
            alternatives=alternatives,
            signals=signals,
        )
    ]
    created = 0
    for start in range(0, len(pairs), PAIRS_PER_INSERT):
        created += _insert_new(pairs[start : start + PAIRS_PER_INSERT])
    return created


def _insert_new(pairs: list[tuple[int, str, str, str]]) -> int:
    """Insert the pairs, skipping those already stored; returns how many were inserted.
    Plain SQL because ``bulk_create(ignore_conflicts=True)`` cannot say how many rows it wrote,
    and counting before and after would race with a concurrent ingest. ``ON CONFLICT DO
    NOTHING`` reads the same on PostgreSQL and SQLite (3.24+)."""
    if not pairs:
        return 0
    meta = ProductionPreference._meta
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(meta.get_field(name).column)
        for name in ("event", "kind", "chosen_id", "rejected_id", "created_at")
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(pairs))
    params = [value for pair in pairs for value in (*pair, now)]
    # Table and column names come from the model; every value is a bound parameter.
    table = quote(meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT DO NOTHING"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


@dataclass(frozen=True)
class ProductionFilters:
    """Which production pairs to read: those of events of ``sources`` (slugs) that occurred in
    [``since``, ``until``) of ``model_version``, of ``kind``; ``None`` leaves a filter out."""

    sources: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    model_version: str | None = None
    kind: str | None = None


EVENT_COLUMNS = (
    "pk", "event_id", "source__slug", "occurred_at", "trace_id", "model_name", "model_version",
    "prompt", "context", "response_id", "response", "alternatives", "correction",
)  # fmt: skip


def production_pair_chunks(
    filters: ProductionFilters, chunk_size: int = PAIRS_PER_CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """The pairs that match ``filters``, as lists of at most ``chunk_size`` dicts (see
    :func:`production_pairs`), in the order the pairs were stored. Two queries a chunk (the
    next pairs by primary key, then their events), so memory holds one chunk whatever the
    table's size. Pairs of purged events, and pairs whose response is no longer in the event,
    are left out."""
    pairs = ProductionPreference.objects.filter(
        event__source__slug__in=filters.sources, event__text_purged_at__isnull=True
    )
    if filters.since is not None:
        pairs = pairs.filter(event__occurred_at__gte=filters.since)
    if filters.until is not None:
        pairs = pairs.filter(event__occurred_at__lt=filters.until)
    if filters.model_version is not None:
        pairs = pairs.filter(event__model_version=filters.model_version)
    if filters.kind is not None:
        pairs = pairs.filter(kind=filters.kind)
    last = 0
    while True:
        batch = list(
            pairs.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "event_id", "kind", "chosen_id", "rejected_id")[:chunk_size]
        )
        if not batch:
            return
        last = batch[-1][0]
        events = {
            row["pk"]: row
            for row in FeedbackEvent.objects.filter(
                pk__in={pair[1] for pair in batch}, text_purged_at__isnull=True
            )
            .order_by()
            .values(*EVENT_COLUMNS)
        }
        responses: dict[int, dict[str, Response]] = {}
        chunk = []
        for _, event_pk, kind, chosen_id, rejected_id in batch:
            if (event := events.get(event_pk)) is None:
                continue
            if event_pk not in responses:
                responses[event_pk] = _responses(event)
            row = _pair_row(event, responses[event_pk], kind, chosen_id, rejected_id)
            if row is not None:
                chunk.append(row)
        if chunk:
            yield chunk


def production_pairs(filters: ProductionFilters) -> Iterator[dict[str, Any]]:
    """The pairs that match ``filters``, one dict each: ``prompt`` (text or chat messages, as
    sent), ``context`` (the documents the model saw), ``chosen``, ``rejected`` (texts),
    ``chosen_model`` and ``rejected_model`` (``{"name", "version"}``; ``None`` for the user's
    correction), ``kind``, ``event_id`` (the product's id), ``source`` (slug),
    ``model_version``, ``occurred_at`` and ``trace_id``. Streams a chunk at a time."""
    for chunk in production_pair_chunks(filters):
        yield from chunk


def _responses(event: dict[str, Any]) -> dict[str, Response]:
    """Response id -> (text, model) of every response of an event; an alternative sent without
    a model is the event's model's."""
    model = {"name": event["model_name"], "version": event["model_version"]}
    out: dict[str, Response] = {event["response_id"]: (event["response"], model)}
    for alternative in event["alternatives"] or []:
        own = alternative.get("model") or {}
        alt_model = (
            {"name": own["name"], "version": own.get("version") or ""} if own.get("name") else model
        )
        out[alternative["id"]] = (alternative.get("text") or "", alt_model)
    if event["correction"]:
        out[CORRECTION_ID] = (event["correction"], None)
    return out


def _pair_row(
    event: dict[str, Any], responses: dict[str, Response], kind: str, chosen_id: str,
    rejected_id: str,
) -> dict[str, Any] | None:  # fmt: skip
    chosen, rejected = responses.get(chosen_id), responses.get(rejected_id)
    if event["prompt"] is None or not chosen or not rejected or not chosen[0] or not rejected[0]:
        return None
    return {
        "prompt": event["prompt"],
        "context": event["context"],
        "chosen": chosen[0],
        "rejected": rejected[0],
        "chosen_model": chosen[1],
        "rejected_model": rejected[1],
        "kind": kind,
        "event_id": event["event_id"],
        "source": event["source__slug"],
        "model_version": event["model_version"],
        "occurred_at": event["occurred_at"],
        "trace_id": event["trace_id"],
    }
