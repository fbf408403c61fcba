"""The rubric as labeling reads it: cached per process once frozen, never stale.

A frozen rubric (one a judgment answers) cannot change, so next item and submit read it from
memory; a rubric no judgment answers yet is read afresh, so a lead's edits show at once; a new
version is a new row, read on its own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.api.labeling import RubricSerializer
from annotation.models import Criterion, CriterionKind
from annotation.services.labeling_rubrics import forget_cached_rubrics, labeling_rubric
from annotation.services.rubrics import revise_rubric
from tests.annotation.labeling_fixtures import add_items, good_answers

pytestmark = pytest.mark.django_db


def next_item(client, sprint) -> dict:
    response = client.get(f"/api/v1/sprints/{sprint.pk}/next")
    assert response.status_code == 200
    return response.json()


def submit(client, assignment, key, answers=None):
    return client.post(
        "/api/v1/judgments",
        {"assignment": assignment, "answers": answers or good_answers()},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_the_payload_is_what_the_rubric_serializer_says(rubric):
    Criterion.objects.create(
        rubric=rubric,
        name="why",
        kind=CriterionKind.TEXT,
        question="Why?",
        help_text="One line.",
        required=False,
        position=2,
        config={"max_length": 300},
    )
    assert labeling_rubric(rubric).payload == RubricSerializer(rubric).data


def test_an_unfrozen_rubric_is_read_afresh_so_edits_show(sprint, rubric, annotator, api_client_for):
    add_items(sprint, 2)
    client = api_client_for(annotator)
    assert [c["name"] for c in next_item(client, sprint)["rubric"]["criteria"]] == [
        "preference",
        "helpfulness",
    ]
    Criterion.objects.create(
        rubric=rubric,
        name="why",
        kind=CriterionKind.TEXT,
        question="Why?",
        required=False,
        position=2,
    )
    served = next_item(client, sprint)
    assert [c["name"] for c in served["rubric"]["criteria"]] == ["preference", "helpfulness", "why"]
    assert not labeling_rubric(rubric).frozen


def test_a_frozen_rubric_is_served_from_memory(sprint, rubric, annotator, api_client_for):
    add_items(sprint, 3)
    client = api_client_for(annotator)
    forget_cached_rubrics()
    first = next_item(client, sprint)
    assert submit(client, first["assignment"], "k1").status_code == 201
    assert labeling_rubric(rubric).frozen
    with CaptureQueriesContext(connection) as queries:
        assert labeling_rubric(rubric).payload == first["rubric"]
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        second = next_item(client, sprint)
    assert second["rubric"] == first["rubric"]
    assert not [q for q in queries if "annotation_criterion" in q["sql"]]


def test_a_new_version_is_read_under_its_own_id(sprint, rubric, annotator, api_client_for):
    add_items(sprint, 3)
    client = api_client_for(annotator)
    first = next_item(client, sprint)
    submit(client, first["assignment"], "k1")
    assert labeling_rubric(rubric).frozen
    new = revise_rubric(rubric)
    Criterion.objects.filter(rubric=new, name="helpfulness").delete()
    sprint.rubric = new
    sprint.save()
    served = next_item(client, sprint)
    assert served["rubric"]["version"] == 2
    assert [c["name"] for c in served["rubric"]["criteria"]] == ["preference"]
    # Submits are checked against the new version: its criteria, not the cached old ones.
    refused = submit(client, served["assignment"], "k2", good_answers())
    assert refused.status_code == 400
    assert "answers.helpfulness" in [e["field"] for e in refused.json()["errors"]]
    ranking_only = {"preference": {"ranking": ["a", "b"]}}
    assert submit(client, served["assignment"], "k3", ranking_only).status_code == 201
