"""Production preferences: corrections and picks become pairs, idempotently, and are read out
with their event's text and provenance (feedback.services.production_preferences)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback.models import ProductionPreference
from feedback.services.production_preferences import (
    ProductionFilters,
    pairs_of_event,
    production_pair_chunks,
    production_pairs,
    record_preferences,
)
from tests.support.builders import feedback_event, feedback_source

pytestmark = pytest.mark.django_db


def alternative(alt_id: str, text: str, *, shown: bool, model=None) -> dict:
    return {"id": alt_id, "text": text, "model": model or {"name": "", "version": ""},
            "shown": shown}  # fmt: skip


V2 = {"name": "bot", "version": "v2"}


def stored(event) -> set[tuple[str, str, str]]:
    return set(event.preferences.values_list("kind", "chosen_id", "rejected_id"))


@pytest.fixture
def source():
    return feedback_source("support-bot")


def test_a_correction_is_preferred_to_the_response_it_corrects(source):
    event = feedback_event(source, "ev-1", correction="Open Settings, then Security.")
    assert record_preferences([event.pk]) == 1
    assert stored(event) == {("correction", "correction", "response")}


def test_a_pick_is_preferred_to_every_other_shown_response(source):
    event = feedback_event(
        source, "ev-1", response_id="r1",
        alternatives=[alternative("r2", "Try the app.", shown=True),
                      alternative("r3", "Call us.", shown=True)],
        signals={"picked": "r2"},
    )  # fmt: skip
    assert record_preferences([event.pk]) == 2
    assert stored(event) == {("pick", "r2", "r1"), ("pick", "r2", "r3")}


def test_picking_the_main_response_beats_the_shown_alternatives_only(source):
    event = feedback_event(
        source, "ev-1",
        alternatives=[alternative("b", "Shown.", shown=True),
                      alternative("c", "Never shown.", shown=False)],
        signals={"picked": "response"},
    )  # fmt: skip
    record_preferences([event.pk])
    assert stored(event) == {("pick", "response", "b")}


def test_an_unshown_alternative_gives_no_pick_pair(source):
    event = feedback_event(
        source, "ev-1", alternatives=[alternative("b", "Never shown.", shown=False)],
        signals={"picked": "b"},
    )  # fmt: skip
    assert record_preferences([event.pk]) == 0
    assert not ProductionPreference.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {},  # a thumb alone is no pair
        {"correction": "  "},
        {"correction": " Open Settings. "},  # the response's own text
        {"signals": {"picked": "response"}},  # nothing else was shown
        {"signals": {"picked": "ghost"}},
        {"signals": {"picked": 3}},
    ],
)
def test_signals_that_prefer_nothing_give_no_pair(source, fields):
    event = feedback_event(source, "ev-1", **fields)
    assert record_preferences([event.pk]) == 0


def test_a_purged_event_gives_nothing(source):
    event = feedback_event(
        source, "ev-1", correction="Better.", text_purged_at=timezone.now(),
        alternatives=[alternative("b", "", shown=True)], signals={"picked": "b"},
    )  # fmt: skip
    assert record_preferences([event.pk]) == 0
    assert not ProductionPreference.objects.exists()


def test_recording_is_idempotent_and_adds_only_new_pairs(source):
    event = feedback_event(
        source, "ev-1", correction="Better.", signals={"picked": "response"},
        alternatives=[alternative("b", "Other.", shown=True)],
    )  # fmt: skip
    assert record_preferences([event.pk, event.pk]) == 2
    assert record_preferences([event.pk]) == 0
    event.alternatives = [*event.alternatives, alternative("c", "Third.", shown=True)]
    event.save(update_fields=["alternatives"])
    assert record_preferences([event.pk]) == 1
    assert ProductionPreference.objects.count() == 3
    assert record_preferences([]) == 0 and record_preferences([10**9]) == 0


def test_a_batch_of_a_thousand_events_is_one_read_and_one_insert(source):
    events = [feedback_event(source, f"ev-{n}", correction=f"Fixed {n}.") for n in range(1000)]
    with CaptureQueriesContext(connection) as queries:
        assert record_preferences(event.pk for event in events) == 1000
    assert len(queries) == 2


def test_pairs_of_event_order():
    pairs = pairs_of_event(
        response_id="a", response="A", correction="C", signals={"picked": "c"},
        alternatives=[alternative("b", "B", shown=True), alternative("c", "C", shown=True)],
    )  # fmt: skip
    assert pairs == [("correction", "correction", "a"), ("pick", "c", "a"), ("pick", "c", "b")]


# --- reading pairs out ---------------------------------------------------------------------


def test_production_pairs_read_text_and_provenance_from_the_event(source):
    chat = [{"role": "user", "content": "Reset my password?"}]
    context = [{"id": "kb-1", "title": "Help", "text": "Settings…", "source": "", "cited": True}]
    event = feedback_event(
        source, "ev-9", prompt=chat, context=context, trace_id="t-9", correction="Fixed.",
        alternatives=[alternative("b", "Other.", shown=True, model=V2)],
        signals={"picked": "b"},
    )  # fmt: skip
    record_preferences([event.pk])
    rows = list(production_pairs(ProductionFilters(sources=["support-bot"])))
    assert [(r["kind"], r["chosen"], r["rejected"]) for r in rows] == [
        ("correction", "Fixed.", "Open Settings."),
        ("pick", "Other.", "Open Settings."),
    ]
    first, second = rows
    assert first["prompt"] == chat and first["context"] == context
    assert first["chosen_model"] is None
    assert first["rejected_model"] == {"name": "bot", "version": "v1"}
    assert second["chosen_model"] == {"name": "bot", "version": "v2"}
    assert first["event_id"] == "ev-9" and first["source"] == "support-bot"
    assert first["trace_id"] == "t-9" and first["model_version"] == "v1"
    assert first["occurred_at"] == event.occurred_at


def test_production_pairs_filter_and_skip_purged_events(source):
    other = feedback_source("docs-bot")
    now = timezone.now()
    old = feedback_event(source, "old", correction="x", occurred_at=now - timedelta(days=10))
    new = feedback_event(source, "new", correction="y", model_version="v2")
    pick = feedback_event(
        source, "pick", signals={"picked": "b"}, alternatives=[alternative("b", "B", shown=True)]
    )
    elsewhere = feedback_event(other, "elsewhere", correction="z")
    purged = feedback_event(source, "purged", correction="w")
    record_preferences([old.pk, new.pk, pick.pk, elsewhere.pk, purged.pk])
    purged.text_purged_at, purged.prompt, purged.response, purged.correction = now, None, "", ""
    purged.save()

    def ids(**filters) -> list[str]:
        filters.setdefault("sources", ["support-bot"])
        return [row["event_id"] for row in production_pairs(ProductionFilters(**filters))]

    assert ids() == ["old", "new", "pick"]
    assert ids(sources=["support-bot", "docs-bot"]) == ["old", "new", "pick", "elsewhere"]
    assert ids(sources=[]) == []
    assert ids(since=now - timedelta(days=1)) == ["new", "pick"]
    assert ids(until=now - timedelta(days=1)) == ["old"]
    assert ids(model_version="v2") == ["new"]
    assert ids(kind="pick") == ["pick"]


def test_production_pairs_stream_in_chunks(source):
    events = [feedback_event(source, f"ev-{n}", correction=f"Fixed {n}.") for n in range(7)]
    record_preferences([event.pk for event in events])
    chunks = list(production_pair_chunks(ProductionFilters(sources=["support-bot"]), chunk_size=3))
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    assert [row["chosen"] for chunk in chunks for row in chunk] == [f"Fixed {n}." for n in range(7)]
