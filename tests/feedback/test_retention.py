"""Retention: text past a source's retention period is emptied, signals, hashes and provenance
stay, a second run purges nothing, a dry run stores nothing, and each run that purges writes one
audit event. The clock is fixed: ``now=`` for the service, a patched ``timezone.now`` for the
command and the task."""

import io
import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connections

from annotation.models import AuditEvent
from feedback.models import FeedbackEvent
from feedback.services import retention
from feedback.services.hashing import id_hash
from feedback.services.retention import purge_expired_text
from feedback.tasks import purge_feedback
from tests.support.builders import feedback_event, feedback_source

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ALTERNATIVE = {
    "id": "regen-1",
    "text": "Click Settings, then Security.",
    "model": {"name": "bot", "version": "v2"},
    "shown": True,
    "signals": {"thumb": "up"},
}


def old_event(source, event_id: str, days_ago: float, **fields) -> FeedbackEvent:
    values = {
        "occurred_at": NOW - timedelta(days=days_ago),
        "received_at": NOW - timedelta(days=days_ago),
        "session_hash": id_hash(source.slug, "session", "s-1"),
        "user_hash": id_hash(source.slug, "user", "u-1"),
        "trace_id": f"trace-{event_id}",
        "prompt": [{"role": "user", "content": "How do I reset my password?"}],
        "context": [{"id": "kb-1", "title": "Reset", "text": "Open Settings.", "cited": True}],
        "alternatives": [ALTERNATIVE],
        "correction": "Settings > Security > Reset.",
        "comment": "Too short.",
        "signals": {"thumb": "down", "stars": 2, "reasked": True},
        "stars": 2,
        "reasked": True,
        "redaction_counts": {"email": 1},
        "response_count": 3,
        **fields,
    }
    return feedback_event(source, event_id, **values)


@pytest.fixture
def bot():
    return feedback_source("support-bot", retention_days=30)


@pytest.fixture
def wiki():
    return feedback_source("wiki-rag", retention_days=7)


def test_expired_text_goes_and_signals_hashes_provenance_stay(bot):
    expired = old_event(bot, "old", days_ago=31)
    kept = old_event(bot, "recent", days_ago=29)
    before = FeedbackEvent.objects.get(pk=expired.pk)

    report = purge_expired_text(now=NOW)

    assert report.counts() == {"support-bot": 1}
    expired.refresh_from_db()
    assert expired.prompt is None
    assert expired.context == []
    assert expired.response == expired.correction == expired.comment == ""
    assert expired.alternatives == [{**ALTERNATIVE, "text": ""}]
    assert expired.text_purged_at == NOW
    for name in (
        "event_id", "occurred_at", "received_at", "session_hash", "user_hash", "trace_id",
        "model_name", "model_version", "response_id", "signals", "thumb", "stars", "reasked",
        "response_count", "redaction_counts",
    ):  # fmt: skip
        assert getattr(expired, name) == getattr(before, name), name
    assert expired.user_hash and expired.session_hash
    kept.refresh_from_db()
    assert kept.text_purged_at is None
    assert kept.response == "Open Settings." and kept.alternatives == [ALTERNATIVE]


def test_each_source_has_its_own_retention(bot, wiki):
    old_event(bot, "b-10", days_ago=10)
    old_event(wiki, "w-10", days_ago=10)
    old_event(wiki, "w-5", days_ago=5)

    report = purge_expired_text(now=NOW)

    assert report.counts() == {"support-bot": 0, "wiki-rag": 1}
    purged = FeedbackEvent.objects.filter(text_purged_at__isnull=False)
    assert list(purged.values_list("event_id", flat=True)) == ["w-10"]


def test_a_second_run_purges_nothing_and_writes_no_event(bot):
    for index in range(3):
        old_event(bot, f"ev-{index}", days_ago=40)

    first = purge_expired_text(now=NOW)
    second = purge_expired_text(now=NOW + timedelta(hours=1))

    assert first.total == 3 and second.total == 0
    assert AuditEvent.objects.filter(action="feedback.text_purged").count() == 1
    # The first run's stamp stays: the second did not touch the rows.
    assert set(FeedbackEvent.objects.values_list("text_purged_at", flat=True)) == {NOW}


def test_a_dry_run_reports_and_stores_nothing(bot, wiki):
    old_event(bot, "b-40", days_ago=40)
    old_event(wiki, "w-8", days_ago=8)
    old_event(wiki, "w-1", days_ago=1)

    report = purge_expired_text(now=NOW, dry_run=True)

    assert report.dry_run and report.counts() == {"support-bot": 1, "wiki-rag": 1}
    assert not FeedbackEvent.objects.filter(text_purged_at__isnull=False).exists()
    assert FeedbackEvent.objects.filter(prompt__isnull=True).count() == 0
    assert not AuditEvent.objects.filter(action="feedback.text_purged").exists()


def test_one_audit_event_per_run_with_the_counts(bot, wiki):
    for index in range(4):
        old_event(bot, f"b-{index}", days_ago=31 + index)
    old_event(wiki, "w-9", days_ago=9)

    purge_expired_text(now=NOW)

    [event] = AuditEvent.objects.filter(action="feedback.text_purged")
    assert event.actor is None
    assert event.object_type == "feedback.feedbacksource" and event.object_id == str(bot.pk)
    assert event.changes["events"] == 5
    assert event.changes["now"] == NOW.isoformat()
    assert event.changes["sources"] == {
        "support-bot": {"events": 4, "cutoff": (NOW - timedelta(days=30)).isoformat()},
        "wiki-rag": {"events": 1, "cutoff": (NOW - timedelta(days=7)).isoformat()},
    }


def test_batches_cover_every_row(bot, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    for index in range(5):
        old_event(bot, f"ev-{index}", days_ago=31, alternatives=[] if index % 2 else [ALTERNATIVE])

    assert purge_expired_text(now=NOW).total == 5
    assert not FeedbackEvent.objects.filter(text_purged_at__isnull=True).exists()
    assert all(
        alternative["text"] == ""
        for alternatives in FeedbackEvent.objects.values_list("alternatives", flat=True)
        for alternative in alternatives
    )


def test_an_event_without_text_purges_cleanly(bot):
    old_event(bot, "bare", days_ago=31, prompt="Hi", context=[], alternatives=[], correction="")
    assert purge_expired_text(now=NOW).total == 1
    assert FeedbackEvent.objects.get().prompt is None


def frozen_clock():
    return mock.patch.object(retention.timezone, "now", return_value=NOW)


def test_the_command_prints_counts_per_source_and_dry_run_changes_nothing(bot, wiki):
    old_event(bot, "b-31", days_ago=31)
    old_event(wiki, "w-8", days_ago=8)
    old_event(wiki, "w-9", days_ago=9)

    with frozen_clock():
        dry = io.StringIO()
        call_command("purge_feedback", "--dry-run", stdout=dry)
        assert not FeedbackEvent.objects.filter(text_purged_at__isnull=False).exists()
        out = io.StringIO()
        call_command("purge_feedback", stdout=out)
        again = io.StringIO()
        call_command("purge_feedback", stdout=again)

    assert "support-bot: would purge 1 events" in dry.getvalue()
    assert "wiki-rag: would purge 2 events" in dry.getvalue()
    assert "support-bot: purged 1 events" in out.getvalue()
    assert "wiki-rag: purged 2 events" in out.getvalue()
    assert "total: purged 3 events" in out.getvalue()
    assert "total: purged 0 events" in again.getvalue()
    assert set(FeedbackEvent.objects.values_list("text_purged_at", flat=True)) == {NOW}
    assert AuditEvent.objects.filter(action="feedback.text_purged").count() == 1


def test_the_beat_task_runs_the_purge(bot):
    old_event(bot, "b-31", days_ago=31)
    with frozen_clock():
        assert purge_feedback() == {"support-bot": 1}
        assert purge_feedback() == {"support-bot": 0}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_never_count_a_row_twice(monkeypatch):
    source = feedback_source("support-bot", retention_days=30)
    monkeypatch.setattr(retention, "BATCH_SIZE", 7)
    total = 300
    for index in range(total):
        old_event(source, f"ev-{index}", days_ago=31)
    counts: list[int] = []
    failures: list[str] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            counts.append(purge_expired_text(now=NOW).total)
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sum(counts) == total
    assert not FeedbackEvent.objects.filter(text_purged_at__isnull=True).exists()
    audited = AuditEvent.objects.filter(action="feedback.text_purged")
    assert sum(event.changes["events"] for event in audited) == total


def test_a_huge_retention_period_stops_no_other_sources_purge(bot):
    huge = feedback_source("aaa-archive", retention_days=800_000)  # stored past the form's bound
    old_event(huge, "ev-kept", 400)
    old_event(bot, "ev-old", 31)
    report = purge_expired_text(now=NOW)
    assert report.total == 1
    assert FeedbackEvent.objects.get(event_id="ev-old").text_purged_at is not None
    assert FeedbackEvent.objects.get(event_id="ev-kept").text_purged_at is None


def test_the_admin_form_refuses_a_retention_beyond_a_hundred_years(bot):
    from django.core.exceptions import ValidationError

    bot.retention_days = 36_501
    with pytest.raises(ValidationError) as refused:
        bot.full_clean()
    assert "retention_days" in refused.value.message_dict
