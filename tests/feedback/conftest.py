"""Fixtures of the feedback tests: a source with its lead, a superuser, an ingest token."""

import pytest
from rest_framework.test import APIClient

from feedback.services.ingest_tokens import issue_token
from tests.support.builders import feedback_source


@pytest.fixture
def source_lead(make_user):
    return make_user("fb-lead")


@pytest.fixture
def source(source_lead):
    return feedback_source("support-bot", leads=[source_lead])


@pytest.fixture
def superuser(make_user):
    user = make_user("fb-root")
    user.is_superuser = True
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def ingest_key(source, superuser) -> str:
    return issue_token(superuser, "prod backend", [source]).key


@pytest.fixture
def ingest_client(ingest_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {ingest_key}")
    return client
