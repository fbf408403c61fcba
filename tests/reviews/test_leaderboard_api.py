"""The leaderboard over the API: one sprint and several, the query options, every bad input as
a 400 naming its field, and who may call it (leads of every sprint named; reviewers, who label
too, and annotators 403; non-members 404; anonymous 401)."""

import pytest

from annotation.models import SprintMember, SprintRole
from tests.reviews.leaderboard_fixtures import judge, label, model_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(sprint, annotator):
    for n in range(12):
        item = model_item(sprint, f"i{n}", {"a": ("bot", "v2"), "b": "rival"})
        label(item, ["a", "b"] if n % 4 else ["b", "a"])
        judge(item, annotator, ["a", "b"])
    return sprint


@pytest.fixture
def other_rated(other_sprint, lead, reviewer):
    SprintMember.objects.create(sprint=other_sprint, user=reviewer, role=SprintRole.REVIEWER)
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.LEAD)
    for n in range(5):
        label(model_item(other_sprint, f"o{n}", {"a": "rival", "b": "third"}), ["a", "b"])
    return other_sprint


def test_a_lead_reads_the_sprints_leaderboard(rated, lead, api_client_for):
    response = api_client_for(lead).get(f"/api/v1/sprints/{rated.pk}/leaderboard")
    assert response.status_code == 200
    body = response.json()
    assert [entry["model"] for entry in body["models"]] == ["bot@v2", "rival"]
    top = body["models"][0]
    assert set(top) >= {"model", "rating", "ci", "comparisons"}
    assert top["comparisons"] == 12 and top["ci"][0] < top["rating"] < top["ci"][1]
    assert body["win_rates"]["rates"][0][1] == 0.75
    assert body["bootstrap"] == 200 and body["source"] == "consensus"


def test_the_options_choose_the_source_and_the_bootstrap(rated, lead, api_client_for):
    client = api_client_for(lead)
    url = f"/api/v1/sprints/{rated.pk}/leaderboard"
    body = client.get(url, {"source": "judgments", "bootstrap": 0}).json()
    assert body["models"][0]["comparisons"] == 12 and body["models"][0]["wins"] == 12
    assert body["models"][0]["ci"] == [None, None]
    seeded = client.get(url, {"bootstrap": 30, "seed": 5}).json()
    assert client.get(url, {"bootstrap": 30, "seed": 5}).json() == seeded


def test_several_sprints_together(rated, other_rated, lead, api_client_for):
    client = api_client_for(lead)
    ids = f"{rated.pk},{other_rated.pk}"
    body = client.get("/api/v1/leaderboard", {"sprints": ids, "bootstrap": 20}).json()
    assert [entry["model"] for entry in body["models"]] == ["bot@v2", "rival", "third"]
    assert body["sprints"] == [rated.pk, other_rated.pk] and body["items"] == 17
    repeated = client.get(f"/api/v1/leaderboard?sprints={rated.pk}&sprints={other_rated.pk}")
    assert repeated.json()["sprints"] == [rated.pk, other_rated.pk]


def test_every_sprint_named_must_be_the_callers(
    rated, other_sprint, lead, reviewer, annotator, make_user, api_client_for
):
    both = {"sprints": f"{rated.pk},{other_sprint.pk}"}
    # The lead of one sprint is no member of the other: the whole call is a 404.
    assert api_client_for(lead).get("/api/v1/leaderboard", both).status_code == 404
    missing = {"sprints": f"{rated.pk},999999"}
    assert api_client_for(lead).get("/api/v1/leaderboard", missing).status_code == 404
    # A member of the other who does not lead it: 403.
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.REVIEWER)
    refused = api_client_for(lead).get("/api/v1/leaderboard", both)
    assert refused.status_code == 403 and "bot" not in refused.content.decode()
    only = {"sprints": str(rated.pk)}
    assert api_client_for(lead).get("/api/v1/leaderboard", only).status_code == 200
    assert api_client_for(reviewer).get("/api/v1/leaderboard", only).status_code == 403
    assert api_client_for(annotator).get("/api/v1/leaderboard", only).status_code == 403
    assert api_client_for(make_user("nobody")).get("/api/v1/leaderboard", only).status_code == 404
    assert api_client_for(None).get("/api/v1/leaderboard", only).status_code == 401


def test_annotators_and_reviewers_are_blind_to_the_models(
    rated, annotator, reviewer, make_user, api_client_for
):
    url = f"/api/v1/sprints/{rated.pk}/leaderboard"
    for user in (annotator, reviewer):
        refused = api_client_for(user).get(url)
        assert refused.status_code == 403 and "bot" not in refused.content.decode()
    assert api_client_for(make_user("stranger")).get(url).status_code == 404
    assert api_client_for(None).get(url).status_code == 401
    assert api_client_for(annotator).get("/api/v1/sprints/999999/leaderboard").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"source": "votes"}, "source"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"bootstrap": 2001}, "bootstrap"),
        ({"bootstrap": "many"}, "bootstrap"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_options_are_400_naming_the_field(rated, lead, api_client_for, params, field):
    client = api_client_for(lead)
    for url, extra in [
        (f"/api/v1/sprints/{rated.pk}/leaderboard", {}),
        ("/api/v1/leaderboard", {"sprints": rated.pk}),
    ]:
        response = client.get(url, {**params, **extra})
        assert response.status_code == 400
        assert [error["field"] for error in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    "sprints", ["", ",", "a", "1,x", "-3", "0", "1.5", str(2**63), ",".join(["1"] * 0) or " "]
)
def test_bad_sprint_lists_are_400_naming_the_field(rated, lead, api_client_for, sprints):
    response = api_client_for(lead).get("/api/v1/leaderboard", {"sprints": sprints})
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["sprints"]


def test_too_many_or_no_sprints_are_400(lead, api_client_for):
    client = api_client_for(lead)
    many = ",".join(str(n) for n in range(1, 102))
    for query in ({"sprints": many}, {}):
        response = client.get("/api/v1/leaderboard", query)
        assert response.status_code == 400
        assert [error["field"] for error in response.json()["errors"]] == ["sprints"]


def test_the_schema_documents_both_doors(lead, api_client_for):
    paths = api_client_for(lead).get("/api/schema/", {"format": "json"}).json()["paths"]
    single = paths["/api/v1/sprints/{sprint_id}/leaderboard"]["get"]
    assert {p["name"] for p in single["parameters"]} >= {"source", "bootstrap", "seed"}
    several = paths["/api/v1/leaderboard"]["get"]
    assert "sprints" in {p["name"] for p in several["parameters"]}
