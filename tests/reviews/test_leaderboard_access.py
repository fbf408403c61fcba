"""Who may see the model leaderboard (reviews.services.leaderboard_access): the leads of every
sprint named and superusers. A reviewer labels too, so one who has just judged an item must not
learn from any door (the API with either source, the page, ``manage.py leaderboard --user``)
which model wrote the response they preferred."""

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.http import Http404
from django.test import Client

from annotation.models import SprintMember, SprintRole
from reviews.services.leaderboard_access import leaderboard_for, leaderboard_sprints
from tests.reviews.leaderboard_fixtures import judge, label, model_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(sprint):
    for n in range(6):
        label(model_item(sprint, f"i{n}", {"a": ("bot", "v2"), "b": "rival"}), ["a", "b"])
    return sprint


def test_a_reviewer_who_labels_is_refused_at_every_door(rated, reviewer, api_client_for):
    judged = model_item(rated, "mine", {"a": "secret-model", "b": "rival"})
    judge(judged, reviewer, ["a", "b"])
    api = api_client_for(reviewer)
    for source in ("consensus", "judgments"):
        for url, query in [
            (f"/api/v1/sprints/{rated.pk}/leaderboard", {"source": source}),
            ("/api/v1/leaderboard", {"source": source, "sprints": rated.pk}),
        ]:
            refused = api.get(url, query)
            assert refused.status_code == 403, (url, source)
            assert "secret-model" not in refused.content.decode()
    client = Client()
    client.force_login(reviewer)
    for query in ("", "?source=judgments"):
        page = client.get(f"/reviews/sprints/{rated.pk}/leaderboard{query}")
        assert page.status_code == 403 and "secret-model" not in page.content.decode()
    out = StringIO()
    with pytest.raises(CommandError, match="not a lead"):
        call_command(
            "leaderboard", "--sprints", rated.slug, "--source", "judgments",
            "--user", reviewer.username, stdout=out,
        )  # fmt: skip
    assert "secret-model" not in out.getvalue()


def test_leads_and_superusers_get_the_sprints_in_order(rated, other_sprint, lead, make_user):
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.LEAD)
    ids = [other_sprint.pk, rated.pk, other_sprint.pk]
    assert leaderboard_sprints(lead, ids) == [other_sprint, rated]
    root = make_user("root", is_superuser=True, is_staff=True)
    assert leaderboard_sprints(root, [rated.pk]) == [rated]
    report = leaderboard_for(lead, [rated.pk], bootstrap=0)
    assert report["sprints"] == [rated.pk]
    assert [entry["model"] for entry in report["models"]] == ["bot@v2", "rival"]


def test_reviewers_and_annotators_are_refused(rated, reviewer, annotator):
    for user in (reviewer, annotator):
        with pytest.raises(PermissionDenied, match="leads"):
            leaderboard_sprints(user, [rated.pk])
        with pytest.raises(PermissionDenied):
            leaderboard_for(user, [rated.pk], source="judgments", bootstrap=0, seed=0)


def test_a_sprint_the_caller_cannot_see_is_a_404_for_the_whole_call(
    rated, other_sprint, lead, make_user
):
    with pytest.raises(Http404):
        leaderboard_sprints(lead, [rated.pk, other_sprint.pk])  # no member of the other
    with pytest.raises(Http404):
        leaderboard_sprints(lead, [rated.pk, 999999])
    with pytest.raises(Http404):
        leaderboard_sprints(make_user("stranger"), [rated.pk])
    # 404 before 403: a sprint not seen hides the role in the others.
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.REVIEWER)
    with pytest.raises(PermissionDenied):
        leaderboard_sprints(lead, [rated.pk, other_sprint.pk])
    with pytest.raises(Http404):
        leaderboard_sprints(lead, [other_sprint.pk, 999999])


def test_an_inactive_lead_is_no_member(rated, lead):
    lead.is_active = False
    lead.save()
    with pytest.raises(Http404):
        leaderboard_sprints(lead, [rated.pk])
