"""Ingest through the API as a product's backend does it: redaction before storage, replays
that store nothing twice, every bad event rejected alone by index and field, the batch limits,
and who may read what."""

import json

import pytest
from django.db import connection

from annotation.models import AuditEvent
from feedback.models import FeedbackEvent, ProductionPreference
from feedback.services.hashing import id_hash
from feedback.services.ingest_tokens import issue_token, revoke_token
from tests.feedback.ingest_fixtures import EVENTS_URL, event, send
from tests.support.builders import feedback_source

pytestmark = pytest.mark.django_db

EMAIL = "jane.roe@example.org"
CARD = "4111 1111 1111 1111"


def test_an_event_is_stored_redacted_with_hashed_ids(ingest_client, source):
    sent = event(
        "ev-pii",
        prompt=f"My card {CARD} was charged twice, mail me at {EMAIL}",
        user_id="customer-1188",
    )
    sent["signals"]["comment"] = f"call me back, {EMAIL}"
    response = send(ingest_client, [sent])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] == [{"index": 0, "event_id": "ev-pii"}]
    assert body["duplicates"] == body["rejected"] == body["merged"] == body["erased"] == []
    assert body["redactions"] == {"card": 1, "email": 2}

    stored = FeedbackEvent.objects.get(event_id="ev-pii")
    assert stored.prompt == "My card [CARD] was charged twice, mail me at [EMAIL]"
    assert stored.comment == "call me back, [EMAIL]"
    assert stored.redaction_counts == {"card": 1, "email": 2}
    assert stored.user_hash == id_hash("support-bot", "user", "customer-1188")
    assert stored.thumb == -1 and stored.stars == 2 and stored.outcome == "corrected"
    assert stored.reasked is True and stored.escalated is False
    assert stored.response_id == "r1" and stored.response_count == 3  # r1, r2, the correction
    assert stored.stratum == "billing" and stored.locale == "en-GB"
    # The raw values are nowhere in the row, whatever column.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {FeedbackEvent._meta.db_table}")
        dump = json.dumps(cursor.fetchall(), default=str)
    for raw in (EMAIL, CARD, "customer-1188", "sess-91c2"):
        assert raw not in dump


def test_the_correction_and_the_pick_become_production_preferences(ingest_client):
    assert send(ingest_client, [event("ev-pref")]).status_code == 200
    pairs = set(ProductionPreference.objects.values_list("kind", "chosen_id", "rejected_id"))
    assert pairs == {("correction", "correction", "r1"), ("pick", "r1", "r2")}


def test_a_replayed_batch_stores_nothing_twice(ingest_client):
    batch = [event(f"ev-{i}") for i in range(5)]
    assert len(send(ingest_client, batch).json()["accepted"]) == 5
    again = send(ingest_client, [*batch, event("ev-5")]).json()
    assert [e["event_id"] for e in again["accepted"]] == ["ev-5"]
    assert [e["index"] for e in again["duplicates"]] == [0, 1, 2, 3, 4]
    assert FeedbackEvent.objects.count() == 6
    assert ProductionPreference.objects.count() == 12


def test_the_same_id_twice_in_one_batch_is_stored_once(ingest_client):
    body = send(ingest_client, [event("ev-a"), event("ev-a")]).json()
    assert body["accepted"] == [{"index": 0, "event_id": "ev-a"}]
    assert body["duplicates"] == [{"index": 1, "event_id": "ev-a"}]
    assert FeedbackEvent.objects.count() == 1


def test_regenerated_alternatives_come_back_to_the_same_event(ingest_client):
    single = event("ev-neg", alternatives=[], signals={"thumb": "down"})
    assert send(ingest_client, [single]).json()["accepted"]
    assert FeedbackEvent.objects.get(event_id="ev-neg").response_count == 1
    regenerated = {**single, "alternatives": [{"id": "regen-1", "text": f"Write to {EMAIL}"}]}
    body = send(ingest_client, [regenerated]).json()
    assert body["merged"] == [{"index": 0, "event_id": "ev-neg"}]
    stored = FeedbackEvent.objects.get(event_id="ev-neg")
    assert stored.response_count == 2
    assert stored.alternatives[0]["text"] == "Write to [EMAIL]"
    # The same regeneration again changes nothing.
    assert send(ingest_client, [regenerated]).json()["duplicates"] == [
        {"index": 0, "event_id": "ev-neg"}
    ]
    assert len(FeedbackEvent.objects.get(event_id="ev-neg").alternatives) == 1


def _deep(levels: int) -> dict:
    value: dict = {"text": "x"}
    for _ in range(levels):
        value = {"text": value}
    return value


BAD_EVENTS = [
    ("unknown field", {"colour": "red"}, "events[0].colour"),
    ("unknown signal", {"signals": {"thumb": "up", "mood": 3}}, "events[0].signals.mood"),
    ("wrong type", {"signals": {"stars": "five"}}, "events[0].signals.stars"),
    ("stars out of range", {"signals": {"stars": 6}}, "events[0].signals.stars"),
    ("bad thumb", {"signals": {"thumb": "sideways"}}, "events[0].signals.thumb"),
    ("100k characters", {"response": "a" * 100_000}, "events[0].response"),
    ("NUL", {"prompt": "hello\u0000world"}, "events[0].prompt"),
    ("deep nesting", {"context": [_deep(80)]}, "events[0].context[0].text"),
    ("no time zone", {"occurred_at": "2026-12-05T10:00:00"}, "events[0].occurred_at"),
    ("not a date", {"occurred_at": "yesterday"}, "events[0].occurred_at"),
    ("year 9999", {"occurred_at": "9999-12-31T23:59:59-05:00"}, "events[0].occurred_at"),
    ("year 1", {"occurred_at": "0001-01-01T00:00:00+05:00"}, "events[0].occurred_at"),
    ("next week", {"occurred_at": "2099-01-01T00:00:00Z"}, "events[0].occurred_at"),
    ("missing model", {"model": None}, "events[0].model"),
    ("empty prompt", {"prompt": "  "}, "events[0].prompt"),
    ("bad role", {"prompt": [{"role": "boss", "content": "hi"}]}, "events[0].prompt[0].role"),
    ("picked unknown", {"signals": {"picked": "zzz"}}, "events[0].signals.picked"),
    ("alternative id reused", {"alternatives": [{"id": "r1", "text": "t"}]},
     "events[0].alternatives[0].id"),
    ("corrected without text", {"signals": {"outcome": "corrected"}},
     "events[0].signals.correction"),
    ("event not an object", None, "events[0]"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "change", "field"), BAD_EVENTS, ids=[c[0] for c in BAD_EVENTS])
def test_every_bad_event_is_a_400_naming_the_field_and_nothing_is_stored(
    ingest_client, case, change, field
):
    bad = "not an event" if change is None else event("ev-bad", **change)
    response = send(ingest_client, [bad])
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in [problem.get("field") for problem in body["errors"]]
    assert body["rejected"][0]["index"] == 0
    assert "detail" in body
    assert FeedbackEvent.objects.count() == 0
    assert ProductionPreference.objects.count() == 0


def test_a_rejected_event_never_echoes_its_text(ingest_client):
    bad = event("ev-bad", signals={"thumb": "down", "stars": EMAIL})
    body = send(ingest_client, [bad]).content.decode()
    assert EMAIL not in body


def test_good_events_of_a_batch_are_stored_beside_a_rejected_one(ingest_client):
    response = send(ingest_client, [event("ev-ok"), event("ev-bad", colour=1), event("ev-ok2")])
    assert response.status_code == 200
    body = response.json()
    assert [e["index"] for e in body["accepted"]] == [0, 2]
    [rejected] = body["rejected"]
    assert rejected["index"] == 1 and rejected["event_id"] == "ev-bad"
    assert [p["field"] for p in rejected["errors"]] == ["events[1].colour", "events[1]"]
    assert "known fields: alternatives, context" in rejected["errors"][1]["message"]
    assert set(FeedbackEvent.objects.values_list("event_id", flat=True)) == {"ev-ok", "ev-ok2"}


def test_a_batch_over_the_event_limit_is_a_413_naming_it(ingest_client, settings):
    settings.CONCORD_FEEDBACK_MAX_EVENTS = 3
    response = send(ingest_client, [event(f"ev-{i}") for i in range(4)])
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "events"
    assert "limit is 3" in response.json()["detail"]
    assert FeedbackEvent.objects.count() == 0


def test_the_default_limit_is_a_thousand_events(ingest_client):
    response = send(ingest_client, [{"event_id": str(i)} for i in range(1001)])
    assert response.status_code == 413
    assert "1000" in response.json()["detail"]


def test_a_batch_over_the_byte_limit_is_a_413_naming_it(ingest_client, settings):
    settings.CONCORD_FEEDBACK_MAX_BATCH_BYTES = 2048
    response = send(ingest_client, [event(f"ev-{i}") for i in range(3)])
    assert response.status_code == 413
    assert "2048 bytes" in response.json()["detail"]
    assert FeedbackEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b"not json", "body"), (b"[1, 2]", "body"), (b'{"events": 3}', "events"),
     (b'{"events": [], "extra": 1}', "extra"), (b"{}", "events"),
     (b"[" * 2000 + b"]" * 2000, "body")],
)  # fmt: skip
def test_a_body_that_is_no_batch_is_a_400_naming_the_field(ingest_client, raw, field):
    response = ingest_client.post(EVENTS_URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_an_ingest_token_reads_nothing(ingest_client, source):
    for url in (
        f"{EVENTS_URL}?source={source.slug}",
        "/api/v1/feedback/sources",
        "/api/v1/sprints",
        "/api/v1/exports",
    ):
        response = ingest_client.get(url)
        assert response.status_code == 403, url
        assert response.json()["detail"]


def test_a_token_ingests_only_for_its_sources(ingest_client, superuser):
    other = feedback_source("other-bot", leads=[superuser])
    response = send(ingest_client, [event()], source=other.slug)
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "source"
    assert FeedbackEvent.objects.count() == 0


def test_a_token_for_two_sources_must_name_one(source, superuser, api_client_for):
    other = feedback_source("other-bot", leads=[superuser])
    key = issue_token(superuser, "both", [source, other]).key
    client = api_client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert send(client, [event()]).json()["errors"][0]["field"] == "source"
    assert send(client, [event()], source="other-bot").status_code == 200
    assert FeedbackEvent.objects.get().source == other


def test_a_revoked_or_unknown_token_is_a_401(ingest_client, ingest_key, superuser):
    from feedback.models import IngestToken

    revoke_token(superuser, IngestToken.objects.get())
    assert send(ingest_client, [event()]).status_code == 401
    ingest_client.credentials(HTTP_AUTHORIZATION="Token cfi_not-a-key")
    assert send(ingest_client, [event()]).status_code == 401
    assert FeedbackEvent.objects.count() == 0
    assert AuditEvent.objects.filter(action="feedback.token_revoked").count() == 1


def test_only_the_hash_of_a_key_is_stored(ingest_key):
    from feedback.models import IngestToken

    token = IngestToken.objects.get()
    assert ingest_key not in (token.key_hash, token.prefix, token.name)
    assert ingest_key.startswith(token.prefix)


def test_a_user_token_cannot_ingest(source_lead, api_client_for):
    response = send(api_client_for(source_lead), [event()])
    assert response.status_code == 403
    assert FeedbackEvent.objects.count() == 0


def test_leads_read_their_sources_events_redacted(ingest_client, source, source_lead,
                                                  api_client_for):  # fmt: skip
    send(ingest_client, [event("ev-1", prompt=f"I am {EMAIL}"), event("ev-2")])
    client = api_client_for(source_lead)
    listed = client.get(f"{EVENTS_URL}?source={source.slug}")
    assert listed.status_code == 200
    results = listed.json()["results"]
    assert {r["event_id"] for r in results} == {"ev-1", "ev-2"}
    assert EMAIL not in listed.content.decode()
    one = client.get(f"{EVENTS_URL}/{results[0]['id']}").json()
    assert one["source"] == "support-bot" and "user_hash" in one and "user_id" not in one
    assert client.get("/api/v1/feedback/sources").json()["results"][0]["slug"] == "support-bot"
    filtered = client.get(f"{EVENTS_URL}?source={source.slug}&model_version=none")
    assert filtered.json()["results"] == []


def test_an_annotator_gets_403_and_a_lead_of_another_source_404(
    ingest_client, source, make_user, api_client_for
):
    send(ingest_client, [event()])
    pk = FeedbackEvent.objects.get().pk
    annotator = api_client_for(make_user("fb-annotator"))
    assert annotator.get(f"{EVENTS_URL}?source={source.slug}").status_code == 403
    assert annotator.get(f"{EVENTS_URL}/{pk}").status_code == 403
    other_lead = make_user("fb-other-lead")
    feedback_source("other-bot", leads=[other_lead])
    other = api_client_for(other_lead)
    assert other.get(f"{EVENTS_URL}?source={source.slug}").status_code == 404
    assert other.get(f"{EVENTS_URL}/{pk}").status_code == 404
    assert other.get(f"{EVENTS_URL}?source=other-bot").json()["results"] == []


@pytest.mark.parametrize("query", ["", "&since=yesterday", "&until=2026-01-01T00:00:00"])
def test_bad_list_parameters_are_400s_naming_them(source, source_lead, api_client_for, query):
    url = f"{EVENTS_URL}?source={source.slug}{query}" if query else EVENTS_URL
    response = api_client_for(source_lead).get(url)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] in ("source", "since", "until")
