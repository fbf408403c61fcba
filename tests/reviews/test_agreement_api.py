"""GET /api/v1/sprints/{id}/agreement and ``manage.py agreement``: who may see it, bad input."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from annotation.models import SprintRole
from tests.annotation.labeling_fixtures import add_items
from tests.reviews.agreement_fixtures import members, store_judgment


@pytest.fixture
def judged(db, sprint, make_user):
    """Sprint A: 4 items judged by 3 annotators who mostly agree."""
    items = add_items(sprint, 4)
    users = members(sprint, make_user, ["x", "y", "z"])
    for index, item in enumerate(items):
        for number, user in enumerate(users):
            ranking = ["b", "a"] if (index + number) % 3 == 0 else ["a", "b"]
            answers = {
                "preference": {"ranking": ranking, "strength": 1 + number},
                "helpfulness": {"a": 3 + (number == 1), "b": 2},
            }
            store_judgment(item, user, answers)
    return sprint


def url(sprint) -> str:
    return f"/api/v1/sprints/{sprint.pk}/agreement"


def test_reviewer_gets_the_report(judged, reviewer, api_client_for):
    response = api_client_for(reviewer).get(url(judged), {"bootstrap": 200, "seed": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == 4 and body["judgments"] == 12
    assert set(body["criteria"]) == {"preference", "preference.strength", "helpfulness"}
    figures = body["criteria"]["preference"]
    assert set(figures) >= {"alpha", "ci", "level", "percent_agreement", "items", "judgments"}
    assert figures["level"] == "nominal" and len(figures["ci"]) == 2
    assert len(body["annotators"]) == 3
    again = api_client_for(reviewer).get(url(judged), {"bootstrap": 200, "seed": 3}).json()
    assert again == body


def test_lead_and_superuser_get_it_annotators_do_not(
    judged, lead, annotator, make_user, api_client_for, other_sprint
):
    admin = make_user("root", is_superuser=True, is_staff=True)
    assert api_client_for(lead).get(url(judged), {"bootstrap": 0}).status_code == 200
    assert api_client_for(admin).get(url(judged), {"bootstrap": 0}).status_code == 200
    # An annotator of this sprint is a member, but may not see others' agreement: 403.
    forbidden = api_client_for(annotator).get(url(judged))
    assert forbidden.status_code == 403
    assert "detail" in forbidden.json()
    # A reviewer of another sprint learns nothing about this one: 404.
    stranger = members(other_sprint, make_user, ["rev"], role=SprintRole.REVIEWER)[0]
    assert api_client_for(stranger).get(url(judged)).status_code == 404
    assert api_client_for(stranger).get(url(other_sprint), {"bootstrap": 0}).status_code == 200
    assert api_client_for(None).get(url(judged)).status_code == 401
    assert api_client_for(lead).get("/api/v1/sprints/999999/agreement").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bootstrap": "-1"}, "bootstrap"),
        ({"bootstrap": "5001"}, "bootstrap"),
        ({"bootstrap": "many"}, "bootstrap"),
        ({"until": "yesterday"}, "until"),
        ({"seed": "-4"}, "seed"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(judged, reviewer, api_client_for, params, field):
    response = api_client_for(reviewer).get(url(judged), params)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_until_before_any_judgment_gives_an_empty_report(judged, lead, api_client_for):
    before = (judged.created_at - timezone.timedelta(days=1)).isoformat()
    body = api_client_for(lead).get(url(judged), {"until": before, "bootstrap": 0}).json()
    assert body["judgments"] == 0
    assert body["criteria"]["preference"]["alpha"] is None


def test_schema_describes_the_agreement_call(lead, api_client_for):
    response = api_client_for(lead).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    operation = response.json()["paths"]["/api/v1/sprints/{sprint_id}/agreement"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"bootstrap", "until", "sprint_id"}


def test_command_prints_table_and_json(judged):
    out = StringIO()
    call_command("agreement", judged.slug, "--bootstrap", "50", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["judgments"] == 12
    assert report["criteria"]["helpfulness"]["level"] == "ordinal"
    table = StringIO()
    call_command("agreement", str(judged.pk), "--bootstrap", "0", stdout=table)
    text = table.getvalue()
    assert "helpfulness" in text and "ordinal" in text and "sprint-a-x" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-sprint"], "no sprint"),
        (["sprint-a", "--bootstrap", "9000"], "--bootstrap"),
        (["sprint-a", "--until", "soon"], "--until"),
    ],
)
def test_command_rejects_bad_input(judged, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("agreement", *args, stdout=StringIO())
