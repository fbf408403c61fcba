"""``/api/schema/`` and ``/api/docs/`` need a login outside debug, unless
``CONCORD_PUBLIC_API_DOCS`` opens them. As found: both answered anyone, on any deployment."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_anonymous_schema_is_401_in_the_api_error_shape():
    response = APIClient().get("/api/schema/", {"format": "json"})

    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors"}


def test_anonymous_docs_page_sends_to_the_login_page_and_back():
    response = Client().get("/api/docs/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/api/docs/"


def test_anonymous_docs_script_is_refused_too():
    assert Client().get("/api/docs/?script=").status_code == 302


def test_a_token_reads_the_schema(annotator, api_client_for):
    response = api_client_for(annotator).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    assert "/api/v1/auth/token" in response.json()["paths"]


def test_a_logged_in_person_reads_the_docs(annotator):
    client = Client()
    client.force_login(annotator)

    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/").status_code == 200


@pytest.mark.parametrize("opened_by", ["CONCORD_PUBLIC_API_DOCS", "DEBUG"])
def test_the_setting_or_debug_opens_them_to_anyone(settings, opened_by):
    setattr(settings, opened_by, True)

    assert APIClient().get("/api/schema/", {"format": "json"}).status_code == 200
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.content.decode()


def test_the_docs_are_closed_by_default(settings):
    assert settings.CONCORD_PUBLIC_API_DOCS is False
    assert settings.DEBUG is False
