"""Token authentication, the error shapes of the auth boundary, and the API's schema and docs,
which must work on a machine with no network."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"
ITEM = {
    "external_id": "t-1",
    "prompt": "How do I reset my password?",
    "responses": [{"id": "a", "text": "Use the link."}, {"id": "b", "text": "Call us."}],
}


def import_url(sprint_id: int) -> str:
    return f"/api/v1/sprints/{sprint_id}/items/import"


def jsonl_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "items.jsonl", (json.dumps(ITEM) + "\n").encode(), content_type="application/x-ndjson"
    )


def test_good_credentials_give_a_token_that_authenticates(lead, sprint):
    response = APIClient().post(
        TOKEN_URL, {"username": "lead", "password": "pw-lead"}, format="json"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    imported = client.post(import_url(sprint.pk), {"file": jsonl_upload()}, format="multipart")
    assert imported.status_code == 201, imported.content
    assert imported.json() == {"created": 1, "unchanged": 0}


def test_token_identifies_the_user_not_just_any_caller(annotator, sprint):
    token = APIClient().post(TOKEN_URL, {"username": "ann1", "password": "pw-ann1"}).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token['token']}")

    # Authenticated as an annotator: a known caller without the lead role, so 403, not 401.
    response = client.post(import_url(sprint.pk), {"file": jsonl_upload()}, format="multipart")
    assert response.status_code == 403
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ann1", "password": "wrong"},
        {"username": "nobody", "password": "pw-ann1"},
        {"username": "ann1"},
    ],
)
def test_bad_credentials_give_400_with_errors(annotator, body):
    response = APIClient().post(TOKEN_URL, body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    errors = response.json()["errors"]
    assert errors and all("message" in error for error in errors)
    assert "token" not in response.json()


def test_anonymous_import_is_401_with_a_challenge(sprint):
    response = APIClient().post(import_url(sprint.pk), {"file": jsonl_upload()})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert "detail" in response.json()


def test_invalid_token_is_401(sprint):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.post(import_url(sprint.pk), {"file": jsonl_upload()})

    assert response.status_code == 401


def test_schema_lists_the_contract_paths(annotator, api_client_for):
    response = api_client_for(annotator).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in schema["paths"]
    assert "/api/v1/sprints/{sprint_id}/items/import" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/sprints/{sprint_id}/items/import"]


def test_docs_render_from_local_static_files_only(annotator):
    client = APIClient()
    client.force_login(annotator)
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"https?://", html), "the docs page names an outside host"
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert finders.find(asset), f"{asset} is not among the static files"
    # Swagger UI's start-up script is its own response, not inline: the CSP allows no inline.
    assert not re.search(r"<script>", html)
    init = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', html)
    assert init, html
    script = client.get(init.group(1).replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
