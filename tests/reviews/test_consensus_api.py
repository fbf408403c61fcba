"""The consensus and dispute endpoints in the OpenAPI schema, and the consensus list's pages."""

import json

import pytest

from reviews.services.consensus import compute_consensus
from tests.reviews.dispute_fixtures import bulk_votes, make_items, people

pytestmark = pytest.mark.django_db


def test_the_schema_documents_consensus_and_disputes(reviewer, api_client_for):
    schema = json.loads(api_client_for(reviewer).get("/api/schema/", {"format": "json"}).content)
    paths = schema["paths"]
    assert "get" in paths["/api/v1/sprints/{sprint_id}/consensus"]
    assert "get" in paths["/api/v1/disputes"] and "get" in paths["/api/v1/disputes/{dispute_id}"]
    resolve = paths["/api/v1/disputes/{dispute_id}/resolve"]["post"]
    body = resolve["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert {"ranking", "rationale"} <= set(fields)
    listed = paths["/api/v1/disputes"]["get"]["parameters"]
    assert {p["name"] for p in listed} >= {"sprint", "status", "page"}


def test_consensus_is_paginated_in_item_order(sprint, reviewer, make_user, api_client_for):
    items = make_items(sprint, 105)
    users = people(sprint, make_user, ["a1", "a2"])
    bulk_votes(items, users, [[["a", "b"], ["a", "b"]]] * len(items))
    compute_consensus(sprint)
    client = api_client_for(reviewer)
    first = client.get(f"/api/v1/sprints/{sprint.pk}/consensus").json()
    assert first["count"] == 105 and len(first["results"]) == 100
    row = first["results"][0]
    assert set(row) >= {"item", "external_id", "ranking", "method", "confidence", "judgments"}
    assert row["external_id"] == "s-0" and row["ranking"] == ["a", "b"]
    second = client.get(first["next"]).json()
    items_seen = [r["item"] for r in first["results"] + second["results"]]
    assert items_seen == sorted(item.pk for item in items)
