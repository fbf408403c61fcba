"""Ingest's edges, found in review: what a replay may add to a known event (and what it may
not), erased events that must stay erased, events that arrive already past retention, and
error answers that never echo data nor outgrow the request."""

import datetime

import pytest
from django.utils import timezone

from feedback.models import FeedbackEvent, ProductionPreference
from feedback.services.erasure import erase_person
from feedback.services.ingest import ingest_events
from tests.feedback.ingest_fixtures import event, send

pytestmark = pytest.mark.django_db
EMAIL = "jane.roe@example.org"


def single(event_id: str = "ev-neg", **changes):
    """A thumbs-down event with one response (``changes`` on top)."""
    return event(event_id, **{"alternatives": [], "signals": {"thumb": "down"}, **changes})


def test_a_replay_adds_a_pick_and_a_correction_the_event_lacked(source):
    ingest_events(source, [single()])
    regenerated = single(
        alternatives=[{"id": "regen-1", "text": f"Mail {EMAIL}", "shown": True}],
        signals={"thumb": "down", "picked": "regen-1", "outcome": "corrected",
                 "correction": f"Write to {EMAIL} instead."},
    )  # fmt: skip
    result = ingest_events(source, [regenerated])
    assert [e["event_id"] for e in result.merged] == ["ev-neg"]
    assert result.redactions == {"email": 2}
    stored = FeedbackEvent.objects.get(event_id="ev-neg")
    assert stored.signals["picked"] == "regen-1" and stored.outcome == "corrected"
    assert stored.correction == "Write to [EMAIL] instead." and stored.response_count == 3
    assert stored.redaction_counts == {"email": 2}
    pairs = set(ProductionPreference.objects.values_list("kind", "chosen_id", "rejected_id"))
    assert pairs == {("pick", "regen-1", "r1"), ("correction", "correction", "r1")}


def test_a_replay_never_replaces_what_is_stored(source):
    ingest_events(source, [event("ev-1")])  # picked r1, with a correction
    again = event("ev-1")
    again["signals"] = {**again["signals"], "picked": "r2", "correction": "Something else."}
    assert ingest_events(source, [again]).duplicates
    stored = FeedbackEvent.objects.get(event_id="ev-1")
    assert stored.signals["picked"] == "r1" and stored.correction.startswith("Settings")


def test_alternatives_merged_over_replays_stop_at_the_limit(source):
    ingest_events(source, [single()])
    for batch in range(2):
        alternatives = [{"id": f"r{batch}-{i}", "text": f"answer {i}"} for i in range(8)]
        result = ingest_events(source, [single(alternatives=alternatives)])
    assert result.merged == []
    [rejected] = result.rejected
    assert rejected["errors"][0]["field"] == "events[0].alternatives"
    assert "limit is 15" in rejected["errors"][0]["message"]
    assert len(FeedbackEvent.objects.get().alternatives) == 8


def test_the_same_id_twice_in_a_batch_keeps_the_second_copys_regenerations(source):
    second = single(alternatives=[{"id": "regen-1", "text": "Another answer"}])
    result = ingest_events(source, [single(), second])
    assert [e["index"] for e in result.accepted] == [0]
    assert [e["index"] for e in result.duplicates] == [1]
    assert FeedbackEvent.objects.get().response_count == 2


def test_an_erased_event_sent_again_stays_erased(source, source_lead):
    ingest_events(source, [event("ev-x", user_id="u-1"), event("ev-y", user_id="u-2")])
    erase_person(source_lead, source=source, user_id="u-1")
    result = ingest_events(source, [event("ev-x", user_id="u-1"), event("ev-z", user_id="u-1")])
    assert result.erased == [{"index": 0, "event_id": "ev-x"}]
    assert [e["event_id"] for e in result.accepted] == ["ev-z"]
    assert set(FeedbackEvent.objects.values_list("event_id", flat=True)) == {"ev-y", "ev-z"}


def test_an_event_already_past_retention_is_stored_without_its_text(source):
    source.retention_days = 30
    source.save()
    old = (timezone.now() - datetime.timedelta(days=31)).isoformat()
    result = ingest_events(source, [event("ev-old", occurred_at=old, prompt=f"I am {EMAIL}")])
    assert result.accepted
    stored = FeedbackEvent.objects.get()
    assert stored.text_purged_at is not None and stored.prompt is None and stored.response == ""
    assert all(a["text"] == "" for a in stored.alternatives) and stored.correction == ""
    assert stored.thumb == -1 and stored.user_hash  # signals and hashes stay
    assert not ProductionPreference.objects.exists()


def test_unknown_keys_that_look_like_data_are_never_echoed(ingest_client):
    bad = event("ev-bad")
    bad[EMAIL] = 1
    bad["signals"]["555-867-5309"] = True
    bad["signals"]["mood"] = 3
    body = send(ingest_client, [bad])
    assert body.status_code == 400
    text = body.content.decode()
    assert EMAIL not in text and "555-867-5309" not in text
    fields = [p["field"] for p in body.json()["rejected"][0]["errors"]]
    assert "events[0].signals.mood" in fields and "events[0]" in fields


def test_a_batch_of_junk_gets_an_answer_smaller_than_itself(ingest_client):
    junk = [{f"k{i}": i for i in range(300)} for _ in range(50)]
    request_size = len(str({"events": junk}))
    response = send(ingest_client, junk)
    assert response.status_code == 400
    assert len(response.content) < request_size
    assert len(response.json()["errors"]) == 100
    assert all(len(r["errors"]) <= 21 for r in response.json()["rejected"])


def test_signals_sent_after_the_answer_was_logged_are_added(source):
    logged = event("late-1", alternatives=[], signals=None)
    ingest_events(source, [logged])
    assert FeedbackEvent.objects.get().thumb is None
    later = {
        **logged,
        "signals": {
            "thumb": "down",
            "stars": 1,
            "reasked": True,
            "outcome": "corrected",
            "correction": "The right answer.",
        },
    }
    assert ingest_events(source, [later]).merged
    stored = FeedbackEvent.objects.get()
    columns = (stored.thumb, stored.stars, stored.reasked, stored.outcome)
    assert columns == (-1, 1, True, "corrected")
    assert ProductionPreference.objects.get().kind == "correction"


def test_a_replay_of_another_prompt_under_a_known_id_is_refused(source):
    ingest_events(source, [single()])
    other = single(prompt="A different question", alternatives=[{"id": "g1", "text": "x"}])
    [rejected] = ingest_events(source, [other]).rejected
    assert rejected["errors"][0]["field"] == "events[0].prompt"
    assert FeedbackEvent.objects.get().response_count == 1
