"""The API's one error shape: every 4xx body is ``{"detail": str, "errors": [...]}``, whether
the refusal came from DRF (auth, parsing, validation) or a service's ``ConcordError``."""

import pytest
from rest_framework.test import APIClient

from annotation.services.errors import ConcordError
from exports.services.requests import ExportRejected
from training.services.datasets import DatasetUnusable


def test_a_service_error_carries_problems_status_and_a_summary():
    error = ConcordError([{"field": "answers.preference", "message": "is required"}], 409)
    assert error.status == 409
    assert error.as_body() == {
        "detail": "answers.preference: is required",
        "errors": [{"field": "answers.preference", "message": "is required"}],
    }


def test_every_door_error_is_a_concord_error():
    assert issubclass(ExportRejected, ConcordError)
    assert DatasetUnusable("gone").as_body() == {
        "detail": "gone",
        "errors": [{"field": "dataset", "message": "gone"}],
    }


@pytest.mark.django_db
def test_anonymous_and_validation_errors_have_the_one_shape(django_user_model):
    anonymous = APIClient().get("/api/v1/exports")
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"detail", "errors"}

    user = django_user_model.objects.create_user("shape-user", password="pw-123456789")
    client = APIClient()
    client.force_authenticate(user)
    bad = client.post("/api/v1/exports", {"sprints": "x"}, format="json")
    assert bad.status_code == 400
    body = bad.json()
    assert set(body) == {"detail", "errors"}
    assert {e["field"] for e in body["errors"]} >= {"sprints"}


@pytest.mark.django_db
def test_an_unknown_api_path_is_json_and_a_page_path_is_html(client):
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.json() == {"detail": "Not found.", "errors": []}
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
