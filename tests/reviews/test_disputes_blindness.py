"""Annotators stay blind through a dispute: nothing an annotator can reach (next item, my
judgments, the labeling, panel, revise and home pages) shows another annotator's answers, the
dispute or the adjudicated answer, before or after a reviewer resolves it."""

import pytest
from django.test import Client

from annotation.models import Criterion, CriterionKind, ItemFlag
from reviews.models import Dispute
from reviews.services.disputes import resolve_dispute, review_item
from tests.reviews.dispute_fixtures import make_items, people, vote

pytestmark = pytest.mark.django_db

SECRETS = ("BO-SECRET-NOTE", "BO-SECRET-FRESH", "ADJUDICATION-SECRET", "adjudicated")


@pytest.fixture
def scene(sprint, rubric, annotator, reviewer, make_user):
    Criterion.objects.create(
        rubric=rubric,
        name="notes",
        kind=CriterionKind.TEXT,
        question="Anything to add?",
        required=False,
        position=5,
    )
    shared, fresh = make_items(sprint, 2)
    (bo,) = people(sprint, make_user, ["bo"])
    mine = vote(shared, annotator, ["a", "b"], extra={"notes": "MY-OWN-NOTE"})
    theirs = vote(shared, bo, ["b", "a"], extra={"notes": "BO-SECRET-NOTE"})
    vote(fresh, bo, ["b", "a"], extra={"notes": "BO-SECRET-FRESH"})
    ItemFlag.objects.create(sprint=sprint, item=shared, annotator=bo, reason="BO-SECRET-FLAG")
    dispute = review_item(shared.pk)
    assert dispute is not None
    return {"bo": bo, "mine": mine, "theirs": theirs, "dispute": dispute, "fresh": fresh}


def annotator_views(sprint, annotator, api_client_for, scene) -> dict[str, str]:
    """Everything the annotator can fetch, by path: the body of each 200 answer."""
    api = api_client_for(annotator)
    browser = Client()
    browser.force_login(annotator)
    mine, theirs = scene["mine"].pk, scene["theirs"].pk
    seen = {}
    for client, path in [
        (api, f"/api/v1/sprints/{sprint.pk}/next"),
        (api, "/api/v1/judgments"),
        (api, f"/api/v1/judgments?sprint={sprint.pk}&live=1"),
        (api, f"/api/v1/judgments/{mine}"),
        (browser, "/"),
        (browser, f"/sprints/{sprint.pk}/label"),
        (browser, f"/sprints/{sprint.pk}/label/panel"),
        (browser, f"/judgments/{mine}/revise"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        seen[path] = response.content.decode()
    for client, path in [
        (api, f"/api/v1/judgments/{theirs}"),
        (browser, f"/judgments/{theirs}/revise"),
    ]:
        assert client.get(path).status_code == 404, path
    for path in [
        f"/api/v1/disputes?sprint={sprint.pk}",
        f"/api/v1/disputes/{scene['dispute'].pk}",
        f"/api/v1/sprints/{sprint.pk}/consensus",
    ]:
        assert api.get(path).status_code == 403, path
    assert browser.get(f"/reviews/sprints/{sprint.pk}/disputes").status_code == 403
    assert browser.get(f"/reviews/disputes/{scene['dispute'].pk}").status_code == 403
    return seen


def assert_blind(seen: dict[str, str], bo) -> None:
    for path, body in seen.items():
        for secret in (*SECRETS, "BO-SECRET-FLAG", bo.username):
            assert secret not in body, (path, secret)


def test_blind_before_and_after_adjudication(sprint, annotator, reviewer, api_client_for, scene):
    before = annotator_views(sprint, annotator, api_client_for, scene)
    assert_blind(before, scene["bo"])
    # The served item is the one the annotator has not judged, and their own note is theirs.
    assert f'"id":{scene["fresh"].pk}' in before[f"/api/v1/sprints/{sprint.pk}/next"]
    assert "MY-OWN-NOTE" in before[f"/api/v1/judgments/{scene['mine'].pk}"]

    resolve_dispute(scene["dispute"], reviewer, ["b", "a"], "ADJUDICATION-SECRET: b is right")
    assert Dispute.objects.get().status == "resolved"

    after = annotator_views(sprint, annotator, api_client_for, scene)
    assert_blind(after, scene["bo"])
    own = api_client_for(annotator).get(f"/api/v1/judgments/{scene['mine'].pk}").json()
    assert own["answers"]["preference"]["ranking"] == ["a", "b"], "their answer is untouched"
