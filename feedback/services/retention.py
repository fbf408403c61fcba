"""Retention: an event's raw text lives ``retention_days`` after it occurred, then it is emptied.

What a purge empties: ``prompt`` (to ``None``), ``context`` (to ``[]``), ``response``,
``correction``, ``comment`` (to ``""``) and the ``text`` of every alternative (each alternative
keeps its ``id``, ``model``, ``shown`` and ``signals``). What it keeps: the signals and their
columns, the session and user hashes, and the provenance (``event_id``, ``trace_id``, the model,
``redaction_counts``, the times). ``text_purged_at`` records when. Production preferences hold no
text of their own (they read the event's), so they are purged with it.

Guarantees of :func:`purge_expired_text`:

- Idempotent: an event is purged once (``text_purged_at`` set in the same UPDATE that empties
  it); a second run finds nothing and reports zeros.
- Safe to run concurrently (the beat task beside ``manage.py purge_feedback``): each batch locks
  its rows ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and the UPDATE re-checks
  ``text_purged_at IS NULL``, so every row is counted by exactly one run and the counts of two
  runs add up to the rows purged.
- Batched: at most :data:`BATCH_SIZE` rows per transaction, so a first run over years of events
  never holds a long lock or a huge transaction; a failure keeps the batches already done.
- Audited: one audit event (``feedback.text_purged``) per run that purged anything, with the
  counts and cutoffs per source, written after the last batch. A run that dies midway keeps
  the batches it committed unaudited, but each purged row carries the run's ``now`` in
  ``text_purged_at``, so the rows still tell when they were purged. A dry run
  writes nothing and reports what a run would purge now.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from annotation.services.audit import record_event
from feedback.models import FeedbackEvent, FeedbackSource
from feedback.models.sources import MAX_RETENTION_DAYS

BATCH_SIZE = 5000


@dataclass
class SourcePurge:
    slug: str
    cutoff: datetime  # events that occurred before this lose their text
    events: int = 0


@dataclass
class PurgeReport:
    """What one run purged (or, with ``dry_run``, would purge), per source slug."""

    now: datetime
    dry_run: bool
    sources: dict[str, SourcePurge] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(purge.events for purge in self.sources.values())

    def counts(self) -> dict[str, int]:
        return {slug: purge.events for slug, purge in self.sources.items()}


def purged_alternatives(alternatives: list) -> list:
    """``alternatives`` without their text: ids, models, ``shown`` and signals stay."""
    out = []
    for alternative in alternatives or []:
        if isinstance(alternative, dict):
            out.append({**alternative, "text": ""})
    return out


def expired_events(source: FeedbackSource, cutoff: datetime):
    return FeedbackEvent.objects.filter(
        source=source, occurred_at__lt=cutoff, text_purged_at__isnull=True
    )


def purge_expired_text(*, now: datetime | None = None, dry_run: bool = False) -> PurgeReport:
    """Empty the text of every event older than its source's retention period (see the module
    docstring for what stays and what this guarantees). ``now`` fixes the clock (tests, a
    replay); by default the current time."""
    now = now or timezone.now()
    report = PurgeReport(now=now, dry_run=dry_run)
    for source in FeedbackSource.objects.order_by("slug"):
        # Clamped as ingest clamps it: a huge value must not stop every other source's purge.
        days = min(source.retention_days, MAX_RETENTION_DAYS)
        purge = SourcePurge(source.slug, now - timedelta(days=days))
        report.sources[source.slug] = purge
        if dry_run:
            purge.events = expired_events(source, purge.cutoff).count()
            continue
        while True:
            done = _purge_batch(source, purge.cutoff, now)
            purge.events += done.purged
            if not done.found:
                break
    if not dry_run and report.total:
        _record_purge(report)
    return report


@dataclass
class _Batch:
    found: bool  # rows were there to take (some may have been purged by another run meanwhile)
    purged: int  # rows this run purged


def _purge_batch(source: FeedbackSource, cutoff: datetime, now: datetime) -> _Batch:
    with transaction.atomic():
        candidates = expired_events(source, cutoff).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            # Rows another run holds are its to purge; OF self keeps the source row unlocked.
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        rows = list(candidates.values_list("id", "alternatives")[:BATCH_SIZE])
        if not rows:
            return _Batch(found=False, purged=0)
        ids = [pk for pk, _ in rows]
        purged = FeedbackEvent.objects.filter(id__in=ids, text_purged_at__isnull=True).update(
            prompt=None, context=[], response="", correction="", comment="", text_purged_at=now
        )
        with_text = [
            FeedbackEvent(id=pk, alternatives=purged_alternatives(alternatives))
            for pk, alternatives in rows
            if alternatives
        ]
        if with_text:
            FeedbackEvent.objects.bulk_update(with_text, ["alternatives"], batch_size=1000)
    return _Batch(found=True, purged=purged)


def _record_purge(report: PurgeReport) -> None:
    """One event for the run. Its object is the first source purged (the audit log names one
    object per event); ``changes`` names every source with its count and cutoff."""
    purged = {slug: purge for slug, purge in report.sources.items() if purge.events}
    first = FeedbackSource.objects.get(slug=next(iter(purged)))
    changes = {
        "now": report.now.isoformat(),
        "events": report.total,
        "sources": {
            slug: {"events": purge.events, "cutoff": purge.cutoff.isoformat()}
            for slug, purge in purged.items()
        },
    }
    with transaction.atomic():
        record_event(None, "feedback.text_purged", first, changes=changes)
