"""Erasure: one product user's (or session's) events go with their production preferences and
the items nobody has judged; judged items keep their judgments and lose the link; nobody else's
events move; only a source's leads may ask (404 for another lead's source, 403 for an annotator);
every bad body is a 400 naming the field, and nothing is removed."""

import uuid

import pytest

from annotation.models import Assignment, AuditEvent, Item, ItemFlag, Judgment, Response
from feedback.models import FeedbackEvent, ProductionPreference, SampledItem
from feedback.services.erasure import erase_person
from feedback.services.hashing import id_hash
from tests.annotation.labeling_fixtures import add_items, good_answers, join, lease_item
from tests.feedback.source_fixtures import *  # noqa: F403 (the fixtures, by name)
from tests.support.builders import feedback_event

pytestmark = pytest.mark.django_db

URL = "/api/v1/feedback/erasures"


def event_of(source, event_id: str, *, user: str = "", session: str = "", **fields):
    return feedback_event(
        source,
        event_id,
        user_hash=id_hash(source.slug, "user", user),
        session_hash=id_hash(source.slug, "session", session),
        trace_id=f"trace-{event_id}",
        correction="Settings > Security.",
        **fields,
    )


def item_from(sprint, name: str, *events) -> Item:
    """An item built from ``events`` the way the samples do it: linked, and named in metadata."""
    [item] = add_items(sprint, 1, prefix=name)
    item.metadata = {
        "source": "feedback",
        "feedback": {
            "events": [event.event_id for event in events],
            "sources": sorted({event.source.slug for event in events}),
            "trace_ids": [event.trace_id for event in events],
            "model_versions": ["v1"],
        },
    }
    item.save()
    for event in events:
        SampledItem.objects.create(event=event, item=item)
    return item


def judge(item: Item, annotator) -> Judgment:
    return Judgment.objects.create(
        sprint=item.sprint, item=item, assignment=lease_item(item, annotator),
        annotator=annotator, rubric=item.sprint.rubric, answers=good_answers(),
        idempotency_key=uuid.uuid4().hex,
    )  # fmt: skip


@pytest.fixture
def world(bot, wiki, sprint, annotator):
    """Alice has three events in support-bot (two in one session) and one in wiki-rag; Bob one
    in support-bot. Items: one from Alice's event nobody judged (leased), one from Alice's and
    Bob's events that the annotator judged, one from Bob's alone."""
    alice = [
        event_of(bot, "a-1", user="alice", session="s-a"),
        event_of(bot, "a-2", user="alice", session="s-a"),
        event_of(bot, "a-3", user="alice", session="s-b"),
    ]
    alice_wiki = event_of(wiki, "a-1", user="alice", session="s-a")
    bob = event_of(bot, "b-1", user="bob", session="s-bob")
    for event in alice[:2]:
        ProductionPreference.objects.create(
            event=event, kind="correction", chosen_id="correction", rejected_id="response"
        )
    ProductionPreference.objects.create(
        event=bob, kind="correction", chosen_id="correction", rejected_id="response"
    )
    unjudged = item_from(sprint, "unjudged", alice[0])
    lease_item(unjudged, annotator)
    judged = item_from(sprint, "judged", alice[1], bob)
    judgment = judge(judged, annotator)
    bobs = item_from(sprint, "bobs", bob)
    return {
        "alice": alice, "alice_wiki": alice_wiki, "bob": bob, "unjudged": unjudged,
        "judged": judged, "judgment": judgment, "bobs": bobs,
    }  # fmt: skip


def test_erasing_a_user_removes_their_events_preferences_and_unjudged_items(fb_lead, bot, world):
    report = erase_person(fb_lead, source=bot, user_id="alice")

    assert report.as_dict() == {
        "events_removed": 3, "items_removed": 1, "items_unlinked": 1, "preferences_removed": 2,
    }  # fmt: skip
    assert not FeedbackEvent.objects.filter(pk__in=[e.pk for e in world["alice"]]).exists()
    assert not Item.objects.filter(pk=world["unjudged"].pk).exists()
    assert not Response.objects.filter(item_id=world["unjudged"].pk).exists()
    assert not Assignment.objects.filter(item_id=world["unjudged"].pk).exists()
    # Bob's event, item and preference, and Alice's event in another source, stay.
    assert (
        FeedbackEvent.objects.filter(pk__in=[world["bob"].pk, world["alice_wiki"].pk]).count() == 2
    )
    assert ProductionPreference.objects.filter(event=world["bob"]).count() == 1
    assert SampledItem.objects.filter(item=world["bobs"], event=world["bob"]).exists()


def test_a_judged_item_keeps_its_judgment_and_loses_the_link(fb_lead, bot, world):
    judged = world["judged"]
    erase_person(fb_lead, source="support-bot", user_id="alice")

    judged.refresh_from_db()
    assert Judgment.objects.get(item=judged) == world["judgment"]
    assert list(SampledItem.objects.filter(item=judged).values_list("event_id", flat=True)) == [
        world["bob"].pk
    ]
    assert judged.metadata["feedback"]["events"] == ["b-1"]
    assert judged.metadata["feedback"]["trace_ids"] == ["trace-b-1"]
    assert judged.metadata["feedback"]["model_versions"] == ["v1"]
    assert judged.metadata["source"] == "feedback"


def test_a_flagged_item_is_kept_too(fb_lead, bot, sprint, annotator):
    event = event_of(bot, "a-9", user="alice")
    item = item_from(sprint, "flagged", event)
    ItemFlag.objects.create(sprint=sprint, item=item, annotator=annotator, reason="broken")

    report = erase_person(fb_lead, source=bot, user_id="alice")

    assert (report.items_removed, report.items_unlinked) == (0, 1)
    item.refresh_from_db()
    assert item.metadata["feedback"]["events"] == []


def test_erasing_a_session_removes_only_that_session(fb_lead, bot, world):
    report = erase_person(fb_lead, source=bot, session_id="s-a")

    assert report.events_removed == 2
    remaining = FeedbackEvent.objects.filter(source=bot).values_list("event_id", flat=True)
    assert sorted(remaining) == ["a-3", "b-1"]


def test_without_a_source_every_source_the_lead_leads(fb_lead, bot, wiki, world):
    wiki.leads.add(fb_lead)
    report = erase_person(fb_lead, user_id="alice")
    assert report.events_removed == 4
    assert list(FeedbackEvent.objects.values_list("event_id", flat=True)) == ["b-1"]


def test_without_a_source_other_leads_sources_stay(fb_lead, world):
    assert erase_person(fb_lead, user_id="alice").events_removed == 3
    assert FeedbackEvent.objects.filter(pk=world["alice_wiki"].pk).exists()


def test_one_audit_event_with_the_hash_never_the_id(fb_lead, bot, world):
    erase_person(fb_lead, source=bot, user_id="alice")

    [event] = AuditEvent.objects.filter(action="feedback.person_erased")
    assert event.actor == fb_lead
    assert event.object_id == str(bot.pk)
    assert event.changes == {
        "kind": "user",
        "hashes": {"support-bot": id_hash("support-bot", "user", "alice")},
        "events_removed": 3, "items_removed": 1, "items_unlinked": 1, "preferences_removed": 2,
    }  # fmt: skip
    assert "alice" not in str(event.changes)


def test_erasing_twice_removes_nothing_more(fb_lead, bot, world):
    erase_person(fb_lead, source=bot, user_id="alice")
    again = erase_person(fb_lead, source=bot, user_id="alice")
    assert again.as_dict() == dict.fromkeys(again.as_dict(), 0)
    assert AuditEvent.objects.filter(action="feedback.person_erased").count() == 2


# --- the API ------------------------------------------------------------------------------


def counts() -> tuple[int, int, int, int]:
    return (
        FeedbackEvent.objects.count(), Item.objects.count(), SampledItem.objects.count(),
        AuditEvent.objects.filter(action="feedback.person_erased").count(),
    )  # fmt: skip


def test_the_api_erases_and_answers_the_counts(api_client_for, fb_lead, world):
    response = api_client_for(fb_lead).post(
        URL, {"source": "support-bot", "user_id": "alice"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "events_removed": 3, "items_removed": 1, "items_unlinked": 1, "preferences_removed": 2,
    }  # fmt: skip


def test_the_api_erases_a_session_in_every_led_source(api_client_for, fb_lead, world):
    response = api_client_for(fb_lead).post(URL, {"session_id": "s-bob"}, format="json")
    assert response.status_code == 200
    assert response.json()["events_removed"] == 1


def test_a_lead_of_another_source_gets_404_and_nothing_moves(api_client_for, other_lead, world):
    before = counts()
    response = api_client_for(other_lead).post(
        URL, {"source": "support-bot", "user_id": "alice"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "source"
    assert counts() == before


def test_an_annotator_gets_403_or_404(api_client_for, annotator, world):
    before = counts()
    client = api_client_for(annotator)
    assert client.post(URL, {"user_id": "alice"}, format="json").status_code == 403
    named = client.post(URL, {"source": "support-bot", "user_id": "alice"}, format="json")
    assert named.status_code in (403, 404)
    assert counts() == before


def test_a_sprint_lead_who_leads_no_source_gets_403(api_client_for, lead, world):
    before = counts()
    assert api_client_for(lead).post(URL, {"user_id": "alice"}, format="json").status_code == 403
    assert counts() == before


def test_anonymous_gets_401(api_client_for, world):
    assert api_client_for(None).post(URL, {"user_id": "alice"}, format="json").status_code == 401


@pytest.mark.parametrize(
    "body, field, status",
    [
        ({}, "user_id", 400),
        ({"source": "support-bot"}, "user_id", 400),
        ({"user_id": "alice", "session_id": "s-a"}, "session_id", 400),
        ({"user_id": ""}, "user_id", 400),
        ({"user_id": "   "}, "user_id", 400),
        ({"session_id": ""}, "session_id", 400),
        ({"user_id": None}, "user_id", 400),
        ({"user_id": 42}, "user_id", 400),
        ({"user_id": ["alice"]}, "user_id", 400),
        ({"user_id": "x" * 201}, "user_id", 400),
        ({"user_id": "alice", "email": "alice@example.com"}, "email", 400),
        ({"user_id": "alice", "source": 7}, "source", 400),
        ({"user_id": "alice", "source": "no-such-source"}, "source", 404),
    ],
)
def test_every_bad_body_names_the_field_and_removes_nothing(
    api_client_for, fb_lead, world, body, field, status
):
    before = counts()
    response = api_client_for(fb_lead).post(URL, body, format="json")
    assert response.status_code == status, response.content
    assert field in [problem.get("field") for problem in response.json()["errors"]]
    assert counts() == before


def test_a_body_that_is_not_an_object_is_a_400(api_client_for, fb_lead, world):
    before = counts()
    response = api_client_for(fb_lead).post(URL, ["alice"], format="json")
    assert response.status_code == 400
    assert counts() == before


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({}, "user_id"),
        ({"user_id": "a", "session_id": "b"}, "session_id"),
        ({"user_id": ""}, "user_id"),
        ({"session_id": "x" * 201}, "session_id"),
    ],
)
def test_the_service_refuses_bad_ids_itself(fb_lead, bot, world, kwargs, field):
    from annotation.services.errors import ConcordError

    before = counts()
    with pytest.raises(ConcordError) as refused:
        erase_person(fb_lead, source=bot, **kwargs)
    assert refused.value.status == 400 and refused.value.problems[0]["field"] == field
    assert counts() == before


def test_the_sprint_queue_still_serves_after_an_item_went(
    api_client_for, fb_lead, bot, sprint, make_user, world
):
    erase_person(fb_lead, source=bot, user_id="alice")
    (newcomer,) = join(sprint, make_user("ann-new"))
    response = api_client_for(newcomer).get(f"/api/v1/sprints/{sprint.pk}/next")
    assert response.status_code == 200, response.content
    assert Assignment.objects.get(annotator=newcomer).item_id in {
        world["judged"].pk,
        world["bobs"].pk,
    }


def test_an_ingest_token_cannot_erase(ingest_client, world):
    before = counts()
    response = ingest_client.post(URL, {"user_id": "alice"}, format="json")
    assert response.status_code == 403
    assert counts() == before


def race_submit_and_erase(client, lead, source, assignment_id: int, person: str) -> dict:
    """A judgment's submit and an erasure of its item's person, started together; their
    answers ("submit": the HTTP status, "erase": the report)."""
    import threading

    from django.db import connections

    start = threading.Barrier(2)
    answers: dict = {}

    def submit() -> None:
        start.wait()
        body = {"assignment": assignment_id, "answers": good_answers(), "seconds": 1}
        response = client.post(
            "/api/v1/judgments", body, format="json", HTTP_IDEMPOTENCY_KEY=f"race-{person}"
        )
        answers["submit"] = response.status_code
        connections.close_all()

    def erase() -> None:
        start.wait()
        answers["erase"] = erase_person(lead, source=source, user_id=person)
        connections.close_all()

    threads = [threading.Thread(target=submit), threading.Thread(target=erase)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_judgment_racing_an_erasure_either_lands_and_keeps_the_item_or_finds_it_gone(
    api_client_for, sprint, annotator, source_lead, source
):
    client = api_client_for(annotator)
    for round_ in range(12):
        person = f"racer-{round_}"
        item = item_from(sprint, f"race-{round_}", event_of(source, f"r-{round_}", user=person))
        assignment = lease_item(item, annotator)

        answers = race_submit_and_erase(client, source_lead, source, assignment.pk, person)

        report = answers["erase"]
        assert report.events_removed == 1
        if Item.objects.filter(pk=item.pk).exists():
            assert answers["submit"] == 201 and report.items_unlinked == 1
            assert Judgment.objects.filter(item=item).count() == 1
            assert not SampledItem.objects.filter(item=item).exists()
        else:
            assert answers["submit"] == 404 and report.items_removed == 1
            assert not Judgment.objects.filter(item_id=item.pk).exists()


def test_erasure_of_items_a_real_sample_drew(lead, sprint, annotator, source_lead, source):
    from feedback.services.sampling import run_sample, start_sample

    source.leads.add(lead)

    def answered(event_id: str, user: str, prompt: str):
        regen = {"id": "regen-1", "text": f"Other answer to {prompt}", "model": {"name": "bot"}}
        return event_of(
            source, event_id, user=user, prompt=prompt, response=f"Answer to {prompt}",
            alternatives=[regen], response_count=2,
        )  # fmt: skip

    answered("ev-alice", "alice", "Alone?")
    answered("ev-alice-2", "alice", "Shared?")
    answered("ev-bob", "bob", "Shared?")  # the same content: one item for both events
    run_sample(start_sample(lead, sprint, {"sprint": sprint.pk, "n": 10, "seed": 1}).pk)
    shared = Item.objects.get(sprint=sprint, prompt="Shared?")
    assert sorted(shared.metadata["feedback"]["events"]) == ["ev-alice-2", "ev-bob"]
    judge(shared, annotator)

    report = erase_person(source_lead, source=source, user_id="alice")

    assert (report.events_removed, report.items_removed, report.items_unlinked) == (2, 1, 1)
    assert list(Item.objects.filter(sprint=sprint)) == [shared]
    shared.refresh_from_db()
    assert shared.metadata["feedback"]["events"] == ["ev-bob"]
    assert shared.metadata["feedback"]["trace_ids"] == ["trace-ev-bob"]
    assert Judgment.objects.filter(item=shared).count() == 1
