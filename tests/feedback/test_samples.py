"""Issue 14, "items for a sprint": a lead draws a stratified sample of feedback events into a
sprint's items through ``POST /api/v1/feedback/samples``; the job runs (eagerly, as the selection
job tests run theirs) and ``GET /api/v1/feedback/samples/{id}`` reports what it drew per stratum
and why others were skipped. Proportions hold within one item of the target for every stratum,
the same seed draws the same events, content is drawn once, single-response and purged events
are skipped, annotators see none of the provenance, and every refusal stores nothing."""

import json
from io import StringIO

import pytest
from celery import current_app
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from annotation.models import BackgroundJob, Item, SprintMember, SprintRole
from feedback.models import FeedbackEvent, FeedbackSample, SampledItem
from feedback.services.sample_allocation import largest_remainder
from feedback.services.sampling import run_sample
from tests.support.builders import feedback_event, feedback_source

pytestmark = pytest.mark.django_db

URL = "/api/v1/feedback/samples"


@pytest.fixture
def eager(monkeypatch):
    """Celery runs the job in the caller, as the selection job tests do."""
    monkeypatch.setitem(current_app.conf, "task_always_eager", True)


@pytest.fixture
def sampler(lead, sprint, source_lead, source):
    """The sprint's lead, who also leads the feedback source."""
    source.leads.add(lead)
    return lead


@pytest.fixture
def draw(eager, api_client_for, sampler, sprint, django_capture_on_commit_callbacks):
    """POST a sample as the lead (the job runs on commit), then GET it."""

    def post(body: dict, *, user=None, into=None) -> dict:
        client = api_client_for(user or sampler)
        body = {"sprint": (into or sprint).pk, **body}
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post(URL, body, format="json")
        assert answer.status_code == 202, answer.content
        assert answer.json()["status"] == "queued"
        status = client.get(answer.json()["status_url"])
        assert status.status_code == 200, status.content
        return status.json()

    return post


def event(source, key: str, stratum: str = "", *, alternatives: int = 1, **fields):
    """An event with ``alternatives`` regenerations beside its response (texts unique by key)."""
    alts = [
        {
            "id": f"regen-{i}",
            "text": f"Alternative {i} to {key}.",
            "model": {"name": "bot", "version": "v2"},
            "shown": True,
            "signals": {},
        }
        for i in range(1, alternatives + 1)
    ]
    values = {
        "prompt": f"Question {key}?",
        "response": f"Answer to {key}.",
        "alternatives": alts,
        "response_count": 1 + alternatives,
        "stratum": stratum,
        "trace_id": f"trace-{key}",
        **fields,
    }
    return feedback_event(source, f"ev-{key}", **values)


def stock(source, counts: dict[str, int], **fields) -> None:
    for stratum, count in counts.items():
        for i in range(count):
            event(source, f"{stratum}-{i}", stratum, **fields)


def items_per_stratum(sprint) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in Item.objects.filter(sprint=sprint):
        counts[item.stratum] = counts.get(item.stratum, 0) + 1
    return counts


def drawn_events(sample_id: int) -> set[str]:
    return set(
        SampledItem.objects.filter(sample_id=sample_id).values_list("event__event_id", flat=True)
    )


# --- proportions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "n"),
    [
        ({"billing": 2, "auth": 1}, 30),
        ({"billing": 2, "auth": 1}, 20),
        ({"a": 1, "b": 1, "c": 1}, 10),
        ({"a": 5, "b": 3, "c": 1}, 17),
        ({"a": 0.5, "b": 0.25, "c": 0.25}, 9),
        ({"a": 7, "b": 2, "c": 1}, 23),
    ],
)
def test_weighted_targets_are_drawn_within_one_item_of_their_quota(
    draw, sprint, source, weights, n
):
    stock(source, dict.fromkeys(weights, 25) | {"other": 10})
    sample = draw({"n": n, "strata": {"field": "stratum", "weights": weights}, "seed": 3})

    report = sample["report"]
    assert sample["status"] == "done" and sample["progress"] == 1.0
    assert report["drawn"] == n == sum(v["target"] for v in report["per_stratum"].values())
    total = sum(weights.values())
    per_item = items_per_stratum(sprint)
    for stratum, weight in weights.items():
        counts = report["per_stratum"][stratum]
        assert abs(counts["target"] - n * weight / total) < 1, stratum
        assert counts["drawn"] == counts["target"] == per_item[stratum]
        assert counts["available"] == 25
    assert "other" not in per_item and report["outside_strata"] == 10
    assert SampledItem.objects.filter(sample_id=sample["id"]).count() == n


def test_equal_allocation_splits_n_over_the_strata_present(draw, sprint, source):
    stock(source, {"de": 6, "en": 9, "fr": 8})
    # Strata by the locale column this time.
    FeedbackEvent.objects.filter(stratum="de").update(locale="de-DE")
    FeedbackEvent.objects.filter(stratum="en").update(locale="en-US")
    FeedbackEvent.objects.filter(stratum="fr").update(locale="fr-FR")
    sample = draw({"n": 10, "strata": {"field": "locale"}, "seed": 1})

    report = sample["report"]
    assert report["allocation"] == "equal" and report["drawn"] == 10
    for counts in report["per_stratum"].values():
        assert abs(counts["drawn"] - 10 / 3) < 1
    assert {s: c["target"] for s, c in report["per_stratum"].items()} == {
        "de-DE": 4, "en-US": 3, "fr-FR": 3,
    }  # fmt: skip
    assert sum(items_per_stratum(sprint).values()) == 10


def test_a_short_stratum_gives_what_it_has_and_the_shortfall_is_reported(draw, source):
    stock(source, {"billing": 40, "auth": 3})
    weights = {"billing": 2, "auth": 1}
    sample = draw({"n": 30, "strata": {"field": "stratum", "weights": weights}})

    per = sample["report"]["per_stratum"]
    assert per["auth"] == {"target": 10, "drawn": 3, "available": 3}
    assert per["billing"] == {"target": 20, "drawn": 20, "available": 40}
    assert sample["report"]["drawn"] == 23 and sample["report"]["redistribute"] is False


def test_redistribute_moves_the_shortfall_to_strata_that_still_have_events(
    draw, source, sprint, make_sprint, sampler
):
    stock(source, {"billing": 40, "auth": 3, "cards": 5})
    weights = {"billing": 2, "auth": 1, "cards": 1}
    strata = {"field": "stratum", "weights": weights, "redistribute": True}
    sample = draw({"n": 40, "strata": strata, "seed": 9})

    per = sample["report"]["per_stratum"]
    assert sample["report"]["drawn"] == 40
    assert (per["auth"]["drawn"], per["cards"]["drawn"], per["billing"]["drawn"]) == (3, 5, 32)
    assert [per[s]["target"] for s in ("auth", "billing", "cards")] == [10, 20, 10]


def test_largest_remainder_sums_to_n_and_stays_within_one_of_every_quota():
    for n in range(0, 60):
        for weights in ({"a": 1}, {"a": 1, "b": 2}, {"x": 0.1, "y": 0.3, "z": 0.6, "w": 5}):
            targets = largest_remainder(n, weights)
            assert sum(targets.values()) == n
            total = sum(weights.values())
            assert all(abs(targets[s] - n * w / total) < 1 for s, w in weights.items())


# --- seeds, duplicates, skips -------------------------------------------------------------


def test_the_same_seed_draws_the_same_events(draw, source, sampler, make_sprint, rubric):
    stock(source, {"billing": 30, "auth": 30})
    body = {"n": 12, "strata": {"field": "stratum", "weights": {"billing": 1, "auth": 1}}}
    sprints = [make_sprint(f"copy-{i}", status="active") for i in range(3)]
    for copy in sprints:
        SprintMember.objects.create(sprint=copy, user=sampler, role=SprintRole.LEAD)

    first = draw({**body, "seed": 11}, into=sprints[0])
    again = draw({**body, "seed": 11}, into=sprints[1])
    other = draw({**body, "seed": 12}, into=sprints[2])

    assert drawn_events(first["id"]) == drawn_events(again["id"])
    assert len(drawn_events(first["id"])) == 12
    assert drawn_events(other["id"]) != drawn_events(first["id"])
    external = {s.pk: set(Item.objects.filter(sprint=s).values_list("external_id", flat=True))
                for s in sprints}  # fmt: skip
    assert external[sprints[0].pk] == external[sprints[1].pk]


def test_a_second_sample_into_the_sprint_skips_the_events_it_already_holds(draw, source, sprint):
    stock(source, {"billing": 10})
    first = draw({"n": 6, "seed": 5})
    second = draw({"n": 6, "seed": 5})

    assert first["report"]["drawn"] == 6 and second["report"]["drawn"] == 4
    assert second["report"]["skipped"]["already_in_sprint"] == 6
    assert not drawn_events(first["id"]) & drawn_events(second["id"])
    assert Item.objects.filter(sprint=sprint).count() == 10


def test_the_same_content_becomes_one_item_carrying_every_event(draw, source, sprint):
    # Three events, one content: same prompt, same response texts in another order.
    for key, trace in (("x", "t-1"), ("y", "t-2"), ("z", "t-3")):
        feedback_event(
            source, f"dup-{key}", prompt="Where is my refund?", response="In 5 days.",
            alternatives=[{"id": "r2", "text": "Ask billing.", "model": {"name": "bot",
                           "version": "v2"}}],
            response_count=2, trace_id=trace, stratum="billing",
        )  # fmt: skip
    feedback_event(
        source, "dup-w", prompt="Where is my refund?", response="Ask billing.",
        correction="In 5 days.", response_count=2, trace_id="t-4", stratum="billing",
    )  # fmt: skip
    stock(source, {"billing": 3})

    sample = draw({"n": 10, "seed": 2})

    assert sample["report"]["drawn"] == 4
    assert sample["report"]["skipped"]["duplicate_content"] == 3
    item = Item.objects.get(sprint=sprint, prompt="Where is my refund?")
    feedback = item.metadata["feedback"]
    assert sorted(feedback["events"]) == ["dup-w", "dup-x", "dup-y", "dup-z"]
    assert sorted(feedback["trace_ids"]) == ["t-1", "t-2", "t-3", "t-4"]
    assert item.external_id.startswith("fb-") and item.responses.count() == 2
    assert SampledItem.objects.filter(item=item).count() == 4


def test_single_response_and_purged_events_are_skipped_and_counted(draw, source, sprint):
    stock(source, {"billing": 4})
    for i in range(5):
        event(source, f"single-{i}", "billing", alternatives=0)
    # Counted as two responses, but the alternative repeats the response: nothing to compare.
    feedback_event(
        source, "ev-same", prompt="Same?", response="Yes.", response_count=2,
        alternatives=[{"id": "r2", "text": "Yes.", "model": {"name": "bot"}}], stratum="billing",
    )  # fmt: skip
    for i in range(2):
        feedback_event(
            source, f"ev-purged-{i}", prompt=None, response="", alternatives=[],
            response_count=2, stratum="billing", text_purged_at=timezone.now(),
        )  # fmt: skip

    sample = draw({"n": 20})

    assert sample["report"]["drawn"] == 4
    assert sample["report"]["skipped"] == {
        "single_response": 6, "duplicate_content": 0, "already_in_sprint": 0, "purged": 2,
    }  # fmt: skip
    assert Item.objects.filter(sprint=sprint).count() == 4


def test_filters_choose_the_events(draw, source, sprint):
    now = timezone.now()
    old = now - timezone.timedelta(days=40)
    event(source, "match", "billing", thumb=-1, reasked=True, model_version="v4")
    event(source, "up", "billing", thumb=1, reasked=True, model_version="v4")
    event(source, "not-reasked", "billing", thumb=-1, reasked=False, model_version="v4")
    event(source, "v3", "billing", thumb=-1, reasked=True, model_version="v3")
    event(source, "old", "billing", thumb=-1, reasked=True, model_version="v4", occurred_at=old)
    event(source, "stars", "billing", thumb=-1, reasked=True, model_version="v4", stars=4)
    since = (now - timezone.timedelta(days=7)).isoformat()
    filters = {
        "source": "support-bot", "since": since, "model_version": ["v4"],
        "signals": {"thumb": "down", "reasked": True},
    }  # fmt: skip

    sample = draw({"n": 10, "filters": filters})
    assert drawn_events(sample["id"]) == {"ev-match", "ev-stars"}

    only_low = {**filters, "signals": {"thumb": "down", "stars_at_most": 2}}
    sample = draw({"n": 10, "filters": only_low})
    assert drawn_events(sample["id"]) == set()


def test_items_carry_the_correction_and_provenance_in_metadata(draw, source, sprint):
    feedback_event(
        source, "ev-c", prompt=[{"role": "user", "content": "Cancel my plan"}],
        response="Done.", correction="You can cancel under Billing > Plan.",
        alternatives=[{"id": "regen-1", "text": "Which plan?",
                       "model": {"name": "bot", "version": "v5"}}],
        context=[{"id": "kb-1", "title": "Plans", "text": "Cancel under Billing.",
                  "source": "https://kb/1", "cited": True}],
        response_count=3, trace_id="tr-9", stratum="billing", model_version="v4",
    )  # fmt: skip
    sample = draw({"n": 1})

    item = Item.objects.get(sprint=sprint)
    assert item.context == [
        {"id": "kb-1", "title": "Plans", "text": "Cancel under Billing.", "source": "https://kb/1"}
    ]
    responses = {r.metadata["event_response"]: r for r in item.responses.all()}
    assert set(responses) == {"response", "regen-1", "correction"}
    assert {r.key for r in responses.values()} == {"a", "b", "c"}
    assert responses["correction"].model_name == "user-correction"
    assert (responses["regen-1"].model_name, responses["regen-1"].model_version) == ("bot", "v5")
    assert item.metadata["source"] == "support-bot" and item.metadata["stratum"] == "billing"
    assert item.metadata["feedback"]["events"] == ["ev-c"]
    assert item.metadata["feedback"]["trace_ids"] == ["tr-9"]
    assert sorted(item.metadata["feedback"]["model_versions"]) == ["v4", "v5"]
    assert item.metadata["feedback"]["sample"]["id"] == sample["id"]


def test_annotators_see_none_of_the_provenance(draw, source, sprint, annotator, api_client_for,
                                               client):  # fmt: skip
    feedback_event(
        source, "ev-secret", prompt="Reset my 2FA", response="Use a backup code.",
        correction="Contact support with ID.", trace_id="trace-secret-42", stratum="auth",
        alternatives=[{"id": "regen-secret", "text": "Reinstall the app.",
                       "model": {"name": "secret-bot", "version": "v-secret"}}],
        response_count=3, model_version="v-hidden",
    )  # fmt: skip
    draw({"n": 1})

    answer = api_client_for(annotator).get(f"/api/v1/sprints/{sprint.pk}/next")
    assert answer.status_code == 200
    served = answer.json()["item"]
    assert set(served) == {"id", "prompt", "context", "responses"}
    assert all(set(r) == {"id", "text"} for r in served["responses"])
    assert {r["id"] for r in served["responses"]} == {"a", "b", "c"}
    client.force_login(annotator)
    page = client.get(reverse("label", args=[sprint.pk]))
    panel = client.get(reverse("label-panel", args=[sprint.pk]))
    assert page.status_code == 200 and panel.status_code in (200, 204)
    seen = json.dumps(answer.json()) + page.content.decode() + panel.content.decode()
    assert "Reset my 2FA" in page.content.decode() + panel.content.decode()  # the item is shown
    for secret in (
        "ev-secret",
        "trace-secret-42",
        "v-hidden",
        "v-secret",
        "secret-bot",
        "regen-secret",
        "user-correction",
        "correction",
        "fb-",
        "support-bot",
    ):
        assert secret not in seen, secret  # fmt: skip


def test_progress_is_written_and_a_finished_sample_is_not_drawn_again(
    sampler, sprint, source, django_capture_on_commit_callbacks, api_client_for
):
    stock(source, {"billing": 450})
    with django_capture_on_commit_callbacks(execute=False):
        answer = api_client_for(sampler).post(URL, {"sprint": sprint.pk, "n": 420}, format="json")
    sample_id = answer.json()["id"]
    assert BackgroundJob.objects.filter(kind="feedback-sample", key=str(sample_id)).exists()
    seen: list[tuple[int, int]] = []

    done = run_sample(sample_id, on_progress=lambda drawn, n: seen.append((drawn, n)))

    assert seen == [(200, 420), (400, 420), (420, 420)]
    assert (done.status, done.progress, done.report["drawn"]) == ("done", 1.0, 420)
    assert run_sample(sample_id) is None
    assert Item.objects.filter(sprint=sprint).count() == 420


def test_a_closed_sprint_fails_the_sample_with_the_reason(
    sampler, sprint, source, django_capture_on_commit_callbacks, api_client_for
):
    stock(source, {"billing": 3})
    with django_capture_on_commit_callbacks(execute=False):
        answer = api_client_for(sampler).post(URL, {"sprint": sprint.pk, "n": 3}, format="json")
    type(sprint).objects.filter(pk=sprint.pk).update(status="closed")
    failed = run_sample(answer.json()["id"])
    assert failed.status == "failed" and "closed" in failed.error
    assert not Item.objects.filter(sprint=sprint).exists() and not SampledItem.objects.exists()


@pytest.mark.parametrize("change", ["demoted", "deactivated"])
def test_a_sample_whose_lead_left_the_sprint_fails_on_the_worker(
    sampler, sprint, source, django_capture_on_commit_callbacks, api_client_for, change
):
    stock(source, {"billing": 3})
    with django_capture_on_commit_callbacks(execute=False):
        answer = api_client_for(sampler).post(URL, {"sprint": sprint.pk, "n": 3}, format="json")
    if change == "deactivated":
        type(sampler).objects.filter(pk=sampler.pk).update(is_active=False)
    else:
        sprint.memberships.filter(user=sampler).update(role="annotator")
    failed = run_sample(answer.json()["id"])
    assert failed.status == "failed" and "no longer leads its sprint" in failed.error
    assert not Item.objects.filter(sprint=sprint).exists()


# --- refusals -----------------------------------------------------------------------------

BAD_BODIES = [
    ({"n": 0}, "n"),
    ({"n": "5"}, "n"),
    ({"n": True}, "n"),
    ({"n": 10_001}, "n"),
    ({}, "n"),
    ({"n": 5, "seed": -1}, "seed"),
    ({"n": 5, "seed": 1.5}, "seed"),
    ({"n": 5, "colour": "red"}, "colour"),
    ({"n": 5, "filters": []}, "filters"),
    ({"n": 5, "filters": {"sauce": "x"}}, "filters.sauce"),
    ({"n": 5, "filters": {"source": 3}}, "filters.source"),
    ({"n": 5, "filters": {"source": []}}, "filters.source"),
    ({"n": 5, "filters": {"source": [" "]}}, "filters.source"),
    ({"n": 5, "filters": {"since": "yesterday"}}, "filters.since"),
    ({"n": 5, "filters": {"until": 20261201}}, "filters.until"),
    ({"n": 5, "filters": {"since": "2026-12-01", "until": "2026-11-01"}}, "filters.until"),
    ({"n": 5, "filters": {"model_version": {"v": 1}}}, "filters.model_version"),
    ({"n": 5, "filters": {"stratum": ["x" * 201]}}, "filters.stratum"),
    ({"n": 5, "filters": {"signals": "down"}}, "filters.signals"),
    ({"n": 5, "filters": {"signals": {"thumb": "sideways"}}}, "filters.signals.thumb"),
    ({"n": 5, "filters": {"signals": {"thumb": -1}}}, "filters.signals.thumb"),
    ({"n": 5, "filters": {"signals": {"thumb": ["down"]}}}, "filters.signals.thumb"),
    ({"n": 5, "filters": {"signals": {"outcome": ["accepted"]}}}, "filters.signals.outcome"),
    ({"n": 5, "filters": {"signals": {"reasked": "yes"}}}, "filters.signals.reasked"),
    ({"n": 5, "filters": {"signals": {"escalated": 1}}}, "filters.signals.escalated"),
    ({"n": 5, "filters": {"signals": {"outcome": "great"}}}, "filters.signals.outcome"),
    ({"n": 5, "filters": {"signals": {"stars_at_most": 6}}}, "filters.signals.stars_at_most"),
    ({"n": 5, "filters": {"signals": {"copied": True}}}, "filters.signals.copied"),
    ({"n": 5, "strata": "stratum"}, "strata"),
    ({"n": 5, "strata": {"field": "tags"}}, "strata.field"),
    ({"n": 5, "strata": {"field": ["stratum"]}}, "strata.field"),
    ({"n": 5, "strata": {"field": "stratum", "weights": {}}}, "strata.weights"),
    ({"n": 5, "strata": {"weights": ["billing"]}}, "strata.weights"),
    ({"n": 5, "strata": {"weights": {"billing": 0}}}, "strata.weights.billing"),
    ({"n": 5, "strata": {"weights": {"billing": -2}}}, "strata.weights.billing"),
    ({"n": 5, "strata": {"weights": {"billing": "2"}}}, "strata.weights.billing"),
    ({"n": 5, "strata": {"redistribute": "yes"}}, "strata.redistribute"),
    ({"n": 5, "strata": {"field": "stratum", "pace": 1}}, "strata.pace"),
    ({"n": 5, "sprint": "1"}, "sprint"),
    ({"n": 5, "sprint": None}, "sprint"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_every_bad_body_is_a_400_naming_the_field_and_stores_nothing(
    sampler, sprint, source, api_client_for, body, field
):
    stock(source, {"billing": 2})
    full = {"sprint": sprint.pk, **body}
    if body.get("sprint", 0) is None:
        full.pop("sprint")
    answer = api_client_for(sampler).post(URL, full, format="json")

    assert answer.status_code == 400, answer.content
    assert field in [e.get("field") for e in answer.json()["errors"]], answer.json()
    assert not FeedbackSample.objects.exists() and not BackgroundJob.objects.exists()


def test_every_bad_field_is_listed_at_once(sampler, sprint, api_client_for):
    body = {"n": 0, "seed": "x", "filters": {"signals": {"thumb": "no"}}, "strata": {"field": 1}}
    answer = api_client_for(sampler).post(URL, {"sprint": "a", **body}, format="json")
    assert answer.status_code == 400
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"sprint", "n", "seed", "filters.signals.thumb", "strata.field"}


def test_a_body_that_is_no_object_is_a_400(sampler, api_client_for):
    answer = api_client_for(sampler).post(URL, [1, 2], format="json")
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "sprint"
    assert not FeedbackSample.objects.exists()


def test_who_may_draw_and_read_a_sample(
    draw, sampler, sprint, other_sprint, source, annotator, reviewer, make_user, api_client_for
):
    stock(source, {"billing": 3})
    valid = {"sprint": sprint.pk, "n": 2}
    # A lead of another team (their own sprint, their own source).
    stranger = make_user("other-lead")
    SprintMember.objects.create(sprint=other_sprint, user=stranger, role=SprintRole.LEAD)
    feedback_source("web-bot", leads=[stranger])
    assert api_client_for(stranger).post(URL, valid, format="json").status_code == 404
    for member in (annotator, reviewer):
        assert api_client_for(member).post(URL, valid, format="json").status_code == 403
    assert api_client_for(None).post(URL, valid, format="json").status_code in (401, 403)
    for huge in (2**63, 10**30):  # beyond the id column: no such sprint, never a 500
        answer = api_client_for(sampler).post(URL, {**valid, "sprint": huge}, format="json")
        assert answer.status_code in (400, 404) and answer.json()["errors"]
    # The sprint's lead naming a source they do not lead, or leading no source at all.
    answer = api_client_for(sampler).post(
        URL, {**valid, "filters": {"source": "web-bot"}}, format="json"
    )
    assert answer.status_code == 404 and answer.json()["errors"][0]["field"] == "filters.source"
    no_source = make_user("lead-without-source")
    SprintMember.objects.create(sprint=sprint, user=no_source, role=SprintRole.LEAD)
    assert api_client_for(no_source).post(URL, valid, format="json").status_code == 403
    assert not FeedbackSample.objects.exists() and not BackgroundJob.objects.exists()

    sample = draw({"n": 2})
    status_url = f"{URL}/{sample['id']}"
    assert api_client_for(stranger).get(status_url).status_code == 404
    assert api_client_for(annotator).get(status_url).status_code == 403
    assert api_client_for(sampler).get(f"{URL}/99999999").status_code == 404
    assert api_client_for(sampler).get(f"{URL}/{10**25}").status_code == 404


def test_a_sample_that_matches_nothing_is_done_with_nothing_drawn(draw, source, sprint):
    event(source, "single", "billing", alternatives=0)
    sample = draw({"n": 5, "filters": {"signals": {"escalated": True}}})
    assert sample["status"] == "done"
    assert (sample["report"]["drawn"], sample["report"]["per_stratum"]) == (0, {})
    assert not Item.objects.filter(sprint=sprint).exists()


def test_the_command_draws_through_the_same_door(sampler, sprint, source):
    stock(source, {"billing": 20, "auth": 20})
    out = StringIO()
    call_command(
        "sample_feedback", sprint.slug, "--user", sampler.username, "--n", "9",
        "--weights", "billing=2,auth=1", "--seed", "4", "--no-progress", stdout=out,
    )  # fmt: skip
    sample = FeedbackSample.objects.get()
    assert (sample.status, sample.report["drawn"]) == ("done", 9)
    assert items_per_stratum(sprint) == {"billing": 6, "auth": 3}
    assert "Sample" in out.getvalue() and not BackgroundJob.objects.exists()
    with pytest.raises(CommandError, match=r"strata\.weights\.billing"):
        call_command("sample_feedback", "sprint-a", "--user", sampler.username, "--n", "2",
                     "--weights", "billing=-1", "--no-progress")  # fmt: skip
