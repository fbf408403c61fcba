"""Prompts to regenerate (feedback.services.regeneration and
``GET /api/v1/feedback/regeneration-prompts``): negative events with one response, as JSONL, for
the leads of the source only; regenerations sent back through ingest take an event off the list.
"""

from datetime import UTC, datetime

import orjson
import pytest
from django.http import StreamingHttpResponse
from rest_framework.test import APIClient

from annotation.services.errors import ConcordError
from feedback.models import FeedbackEvent
from feedback.services.ingest import ingest_events
from feedback.services.ingest_tokens import issue_token
from feedback.services.regeneration import regeneration_prompts
from tests.feedback.ingest_fixtures import event
from tests.support.builders import feedback_event, feedback_source

URL = "/api/v1/feedback/regeneration-prompts"
CONTEXT = [{"id": "kb-1", "title": "Account help", "text": "Use the reset link.", "cited": True}]


def at(day: int) -> datetime:
    return datetime(2026, 11, day, 10, 0, tzinfo=UTC)


@pytest.fixture
def boss(make_user):
    return make_user("boss")


@pytest.fixture
def source(boss):
    """Three events to regenerate (a thumb down, a re-ask, a rejection) among five that are
    not: a thumb up, one with an alternative, a purged one, an escalation alone, and a thumb
    down of another source."""
    source = feedback_source("support-bot", leads=[boss])
    feedback_event(
        source, "down", occurred_at=at(3), context=CONTEXT, response_id="r1",
        signals={"thumb": "down", "comment_given": False},
    )  # fmt: skip
    feedback_event(
        source, "reask", occurred_at=at(5), model_version="v2", thumb=None, reasked=True,
        prompt=[{"role": "user", "content": "And then?"}], signals={"reasked": True},
    )  # fmt: skip
    feedback_event(
        source, "reject", occurred_at=at(7), thumb=None, outcome="rejected",
        signals={"outcome": "rejected"},
    )  # fmt: skip
    feedback_event(source, "up", occurred_at=at(4), thumb=1, signals={"thumb": "up"})
    feedback_event(
        source, "has-alternative", occurred_at=at(4), response_count=2,
        alternatives=[{"id": "b", "text": "Other answer."}],
    )  # fmt: skip
    feedback_event(
        source, "purged", occurred_at=at(4), prompt=None, response="", text_purged_at=at(20)
    )
    feedback_event(source, "escalated", occurred_at=at(4), thumb=None, escalated=True)
    feedback_event(feedback_source("other-bot"), "elsewhere", occurred_at=at(4))
    return source


def ids(rows) -> list[str]:
    return [row["event_id"] for row in rows]


def test_rows_hold_what_a_regeneration_needs(source, boss):
    rows = list(regeneration_prompts(boss, source))
    assert ids(rows) == ["down", "reask", "reject"]  # by occurred_at
    assert rows[0] == {
        "event_id": "down",
        "occurred_at": "2026-11-03T10:00:00+00:00",
        "prompt": "How do I reset my password?",
        "context": CONTEXT,
        "model": {"name": "bot", "version": "v1"},
        "response": {"id": "r1", "text": "Open Settings."},
        "signals": {"thumb": "down", "comment_given": False},
    }
    assert rows[1]["prompt"] == [{"role": "user", "content": "And then?"}]
    assert rows[1]["model"] == {"name": "bot", "version": "v2"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"signal": "down"}, ["down"]),
        ({"signal": "reasked"}, ["reask"]),
        ({"signal": "rejected"}, ["reject"]),
        ({"model_version": "v2"}, ["reask"]),
        ({"model_version": "v9"}, []),
        ({"since": at(5)}, ["reask", "reject"]),
        ({"until": at(5)}, ["down"]),
        ({"since": at(4), "until": at(6), "signal": "reasked"}, ["reask"]),
    ],
)
def test_filters(source, boss, filters, expected):
    assert ids(regeneration_prompts(boss, source, **filters)) == expected


def test_a_regeneration_sent_back_through_ingest_takes_the_event_off_the_list(boss):
    source = feedback_source("support-bot", leads=[boss])
    sent = event("turn-1", alternatives=[], signals={"thumb": "down"})
    assert ingest_events(source, [sent]).accepted
    [row] = regeneration_prompts(boss, source)
    assert row["event_id"] == "turn-1" and row["response"]["id"] == sent["response"]["id"]
    regenerated = {"id": "regen-1", "text": "Settings > Billing > Annual.", "shown": False}
    back = ingest_events(source, [{**sent, "alternatives": [regenerated]}])
    assert [entry["event_id"] for entry in back.merged] == ["turn-1"]
    stored = FeedbackEvent.objects.get(source=source, event_id="turn-1")
    assert stored.response_count == 2 and stored.alternatives[0]["id"] == "regen-1"
    assert list(regeneration_prompts(boss, source)) == []


def test_only_the_sources_leads(source, make_user):
    other = make_user("other-lead")
    feedback_source("third-bot", leads=[other])
    with pytest.raises(ConcordError) as refused:
        regeneration_prompts(other, source)
    assert (refused.value.status, refused.value.problems[0]["field"]) == (404, "source")
    with pytest.raises(ConcordError) as refused:
        regeneration_prompts(make_user("ann"), source)
    assert refused.value.status == 403
    assert len(list(regeneration_prompts(make_user("root", is_superuser=True), source))) == 3


def test_bad_arguments_name_the_field(source, boss):
    with pytest.raises(ConcordError) as refused:
        regeneration_prompts(boss, source, signal="up")
    assert refused.value.problems[0]["field"] == "signal"
    with pytest.raises(ConcordError) as refused:
        regeneration_prompts(boss, source, since=at(5), until=at(5))
    assert refused.value.problems[0]["field"] == "until"


def read_jsonl(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content)
    return [orjson.loads(line) for line in body.splitlines()]


def test_the_api_streams_jsonl(source, boss, api_client_for):
    client = api_client_for(boss)
    response = client.get(URL, {"source": "support-bot"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert "support-bot-regeneration-prompts.jsonl" in response["Content-Disposition"]
    assert ids(read_jsonl(response)) == ["down", "reask", "reject"]
    query = {
        "source": "support-bot", "since": "2026-11-04T00:00:00Z",
        "until": "2026-11-30T00:00:00+00:00", "model_version": "v1", "signal": "rejected",
    }  # fmt: skip
    assert ids(read_jsonl(client.get(URL, query))) == ["reject"]
    asked = client.get(URL, {"source": "support-bot"}, HTTP_ACCEPT="application/x-ndjson")
    assert asked.status_code == 200 and len(read_jsonl(asked)) == 3
    refused = client.get(URL, {"source": "x", "signal": "up"}, HTTP_ACCEPT="application/x-ndjson")
    assert refused.status_code == 400 and orjson.loads(refused.content)["errors"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "source"),
        ({"source": "not a slug!"}, "source"),
        ({"source": "support-bot", "signal": "up"}, "signal"),
        ({"source": "support-bot", "since": "yesterday"}, "since"),
        ({"source": "support-bot", "until": "2026-13-01"}, "until"),
        ({"source": "support-bot", "since": "2026-11-05T00:00Z", "until": "2026-11-04T00:00Z"},
         "until"),
        ({"source": "support-bot", "model_version": "v" * 101}, "model_version"),
    ],
)  # fmt: skip
def test_bad_parameters_are_a_400_naming_the_field(source, boss, api_client_for, query, field):
    response = api_client_for(boss).get(URL, query)
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == field and body["detail"]


def test_who_may_download(source, boss, make_user, annotator, api_client_for):
    query = {"source": "support-bot"}
    other = make_user("other-lead")
    feedback_source("third-bot", leads=[other])
    assert api_client_for(other).get(URL, query).status_code == 404
    assert api_client_for(boss).get(URL, {"source": "no-such-bot"}).status_code == 404
    refused = api_client_for(annotator).get(URL, query)  # a sprint's annotator leads no source
    assert refused.status_code == 403 and refused.json()["detail"]
    assert api_client_for(None).get(URL, query).status_code == 401


def test_an_ingest_token_reads_neither_the_prompts_nor_the_dashboard(source, boss):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(boss, 'bot', [source]).key}")
    for url in (URL, "/api/v1/feedback/dashboard"):
        assert client.get(url, {"source": "support-bot"}).status_code == 403


def test_a_row_with_alternatives_added_goes_back_through_ingest(boss):
    from feedback.services.ingest import ingest_events
    from tests.feedback.ingest_fixtures import event

    source = feedback_source("round-trip", leads=[boss])
    sent = event("rt-1", alternatives=[], signals={"thumb": "down"})
    assert ingest_events(source, [sent]).accepted
    [row] = regeneration_prompts(boss, source)
    row["alternatives"] = [{"id": "regen-1", "text": "A better answer.", "shown": False}]
    result = ingest_events(source, [row])
    assert result.merged == [{"index": 0, "event_id": "rt-1"}], result.rejected
    assert list(regeneration_prompts(boss, source)) == []
