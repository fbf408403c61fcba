"""The OpenAPI schema tells the truth: error answers declared in the one error shape,
paginated lists documented as pages, nullable fields marked, answers typed per criterion kind
with an example a rubric accepts, and query parameters checked (junk is a 400 naming the
parameter, in the one shape) and declared. Each test reproduces a finding of issue 13 as
schemathesis reported it; tests/test_schema_conformance.py runs schemathesis itself."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Criterion, CriterionKind, Rubric, Sprint
from exports.models import DatasetVersion
from tests.annotation.labeling_fixtures import join, lease_item
from tests.reviews.dispute_fixtures import make_items, vote
from training.models import RunStatus, TrainingRun

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/judgments",
    "/api/v1/exports",
    "/api/v1/models",
    "/api/v1/training-runs",
    "/api/v1/sprints/{sprint_id}/consensus",
    "/api/v1/disputes",
]


@pytest.fixture
def schema(lead, api_client_for) -> dict:
    response = api_client_for(lead).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def component(schema: dict, ref: str) -> dict:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_4xx_of_every_operation_is_the_one_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "errors"}
    problem = component(schema, error["properties"]["errors"]["items"]["$ref"])
    assert set(problem["properties"]) == {"field", "message", "line"}
    assert problem["required"] == ["message"]
    for name, operation in operations(schema):
        for code, response in operation["responses"].items():
            if code.startswith("4"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith(("/Error", "/ImportError")), (name, code)


def test_errors_are_declared_where_they_can_happen(schema):
    """401/403 undeclared on every authenticated call and 404 on every call with an id were
    most of the 49 failures."""
    for name, operation in operations(schema):
        codes = set(operation["responses"])
        if name != "POST /api/v1/auth/token":
            assert {"401", "403"} <= codes, name
        if "{" in name:
            assert "404" in codes, name
        if "requestBody" in operation:
            assert {"400", "413"} <= codes, name
    paths = schema["paths"]
    assert "409" in paths["/api/v1/sprints/{sprint_id}/next"]["get"]["responses"]
    assert "409" in paths["/api/v1/disputes/{dispute_id}/resolve"]["post"]["responses"]
    assert "409" in paths["/api/v1/training-runs/{run_id}/cancel"]["post"]["responses"]
    assert "404" in paths["/api/v1/disputes"]["get"]["responses"]
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]


@pytest.mark.parametrize("path", LISTS)
def test_lists_are_documented_as_pages(schema, path):
    operation = schema["paths"][path]["get"]
    page = component(
        schema, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["next"]["nullable"] is True
    assert page["properties"]["results"]["type"] == "array"
    parameter = next(p for p in operation["parameters"] if p["name"] == "page")
    assert parameter["schema"]["type"] == "integer" and parameter["schema"]["minimum"] == 1


def test_nullable_fields_are_marked(schema):
    schemas = schema["components"]["schemas"]
    assert schemas["TrainingRun"]["properties"]["created_by"]["nullable"] is True
    assert schemas["ModelVersion"]["properties"]["promoted_by"]["nullable"] is True
    assert schemas["DatasetVersion"]["properties"]["download"]["nullable"] is True
    dispute = schemas["Dispute"]["properties"]
    for name in ("resolved_by", "final_answers", "consensus", "resolved_at", "final_ranking"):
        assert dispute[name]["nullable"] is True, name


def test_answers_are_components_per_criterion_kind(schema):
    submit = schema["components"]["schemas"]["SubmitRequest"]["properties"]["answers"]
    answers = component(schema, submit["$ref"])
    kinds = [component(schema, kind["$ref"]) for kind in answers["additionalProperties"]["anyOf"]]
    preference, likert, flag, text = kinds
    assert set(preference["properties"]) == {"ranking", "tie", "strength"}
    assert preference["additionalProperties"] is False
    assert likert["additionalProperties"]["type"] == "integer"
    assert flag["additionalProperties"] == {"type": "boolean"}
    assert text["type"] == "string"
    judgment = schema["components"]["schemas"]["Judgment"]["properties"]["answers"]
    assert judgment["$ref"] == submit["$ref"]


def test_the_answers_example_is_accepted_by_a_rubric_of_every_kind(
    schema, make_user, api_client_for
):
    """The Swagger example of a submit was unusable (answers typed as a string): submitted
    as documented, it is stored."""
    rubric = Rubric.objects.create(name="Every kind")
    for position, (name, kind, config) in enumerate(
        [
            ("preference", CriterionKind.PREFERENCE, {"strength_labels": ["a bit", "clearly"]}),
            ("helpfulness", CriterionKind.LIKERT, {"min": 1, "max": 5}),
            ("unsafe", CriterionKind.FLAG, {}),
            ("notes", CriterionKind.TEXT, {"max_length": 500}),
        ]
    ):
        Criterion.objects.create(
            rubric=rubric, name=name, kind=kind, question=f"{name}?", config=config,
            position=position,
        )  # fmt: skip
    sprint = Sprint.objects.create(name="Kinds", slug="kinds", rubric=rubric, status="active")
    item = make_items(sprint, 1, keys=("resp-a", "resp-b"))[0]
    annotator = make_user("kinds-annotator")
    join(sprint, annotator)
    assignment = lease_item(item, annotator)
    operation = schema["paths"]["/api/v1/judgments"]["post"]
    example = next(
        iter(operation["requestBody"]["content"]["application/json"]["examples"].values())
    )
    body = {**example["value"], "assignment": assignment.pk}
    response = api_client_for(annotator).post(
        "/api/v1/judgments", body, format="json", HTTP_IDEMPOTENCY_KEY="example-1"
    )
    assert response.status_code == 201, response.json()
    stored = api_client_for(annotator).get(f"/api/v1/judgments/{response.json()['id']}").json()
    assert stored["answers"] == example["value"]["answers"]


def test_numbers_carry_the_bounds_the_body_parsers_enforce(schema):
    """A schema-valid number beyond a signed 64-bit integer was refused with a 400."""
    submit = schema["components"]["schemas"]["SubmitRequest"]["properties"]
    assert submit["assignment"]["maximum"] == 2**63 - 1
    assert submit["assignment"]["minimum"] == -(2**63 - 1)
    assert submit["seconds"]["maximum"] == 24 * 3600


def test_query_parameters_are_declared_from_their_checks(schema):
    judgments = schema["paths"]["/api/v1/judgments"]["get"]["parameters"]
    declared = {p["name"]: p["schema"] for p in judgments}
    assert declared["live"] == {"type": "boolean"}
    assert declared["sprint"]["minimum"] == 1
    disputes = {p["name"]: p for p in schema["paths"]["/api/v1/disputes"]["get"]["parameters"]}
    assert disputes["sprint"]["required"] is True


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/judgments", {"live": "maybe"}, "live"),
        ("/api/v1/judgments", {"sprint": "abc"}, "sprint"),
        ("/api/v1/judgments", {"sprint": "0"}, "sprint"),
        ("/api/v1/judgments", {"sprint": str(2**63)}, "sprint"),
        ("/api/v1/judgments", {"page": "0"}, "page"),
        ("/api/v1/judgments", {"page": "abc"}, "page"),
        ("/api/v1/judgments", {"page": ""}, "page"),
        ("/api/v1/exports", {"page": "-1"}, "page"),
        ("/api/v1/models", {"page": "null"}, "page"),
        ("/api/v1/training-runs", {"page": "last"}, "page"),
        ("/api/v1/sprints/{sprint}/consensus", {"page": "1.5"}, "page"),
        ("/api/v1/sprints/{sprint}/consensus", {"method": "vote"}, "method"),
        ("/api/v1/sprints/{sprint}/consensus", {"method": ""}, "method"),
        ("/api/v1/judgments", {"sprint": ""}, "sprint"),
        ("/api/v1/sprints/{sprint}/agreement", {"bootstrap": ""}, "bootstrap"),
        ("/api/v1/disputes", {"sprint": "{sprint}", "page": "x"}, "page"),
    ],
)
def test_junk_in_a_query_parameter_is_a_400_naming_it(
    sprint, lead, api_client_for, path, query, field
):
    """``?live=maybe`` and ``?page=abc`` were accepted (200, or DRF's 404 "Invalid page")."""
    query = {key: value.format(sprint=sprint.pk) for key, value in query.items()}
    response = api_client_for(lead).get(path.format(sprint=sprint.pk), query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert [error["field"] for error in body["errors"]] == [field]


def test_live_and_sprint_filter_my_judgments(sprint, make_user, api_client_for):
    annotator = make_user("filtering")
    join(sprint, annotator)
    item = make_items(sprint, 1)[0]
    first = vote(item, annotator, ["a", "b"])
    second = vote(item, annotator, ["b", "a"])
    client = api_client_for(annotator)
    every = client.get("/api/v1/judgments").json()["results"]
    live = client.get("/api/v1/judgments", {"live": "true", "sprint": sprint.pk}).json()
    assert [j["id"] for j in every] == [second.pk, first.pk]
    assert [j["id"] for j in live["results"]] == [second.pk]
    assert client.get("/api/v1/judgments", {"sprint": sprint.pk + 1}).json()["count"] == 0


@pytest.mark.parametrize(
    "path", ["/api/v1/sprints/{id}/next", "/api/v1/judgments/{id}", "/api/v1/exports/{id}"]
)
def test_an_id_beyond_64_bits_is_404(lead, api_client_for, path):
    """``/sprints/9223372036854775808/next`` answered 500 on SQLite (the id overflowed)."""
    response = api_client_for(lead).get(path.format(id=2**63))
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}


def test_a_page_past_the_end_is_still_404(lead, api_client_for):
    response = api_client_for(lead).get("/api/v1/judgments", {"page": "2"})
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}


def test_next_item_refusals_have_the_one_shape(sprint, annotator, api_client_for):
    """A closed sprint answered 409 with ``{"detail"}`` alone, against the schema."""
    Sprint.objects.filter(pk=sprint.pk).update(status="closed")
    response = api_client_for(annotator).get(f"/api/v1/sprints/{sprint.pk}/next")
    assert response.status_code == 409
    assert set(response.json()) == {"detail", "errors"}
    assert response.json()["errors"][0]["message"] == response.json()["detail"]


def test_cancelling_a_finished_run_is_409_in_the_one_shape(sprint, lead, api_client_for):
    """It answered ``{"detail"}`` alone, against the schema."""
    dataset = DatasetVersion.objects.create(
        kind="preference", format="jsonl", status="done", created_by=lead
    )
    dataset.sprints.set([sprint])
    run = TrainingRun.objects.create(
        dataset=dataset,
        model_name="finished",
        base_model="base",
        status=RunStatus.DONE,
        finished_at=timezone.now() - timedelta(minutes=1),
        created_by=lead,
    )
    response = api_client_for(lead).post(f"/api/v1/training-runs/{run.pk}/cancel")
    assert response.status_code == 409
    assert set(response.json()) == {"detail", "errors"}
