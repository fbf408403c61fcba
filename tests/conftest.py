"""Fixtures shared by the whole suite: users in each role, a rubric, a sprint, API clients,
and a real Celery worker process. The CI policy (skips for missing services on a user's machine,
no skips at all in CI) lives in tests/support/ci_policy.py."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Criterion, CriterionKind, Rubric, Sprint, SprintMember, SprintRole
from tests.support.celery_worker import CeleryWorkerProcess, purge_queues
from tests.support.s3_server import S3Objects, artifact_storage_settings, running_s3_server

pytest_plugins = ["tests.support.ci_policy", "tests.support.run_directory"]

User = get_user_model()


@pytest.fixture
def make_user(db):
    def make(username: str, **extra) -> "User":
        return User.objects.create_user(username=username, password="pw-" + username, **extra)

    return make


@pytest.fixture
def rubric(db) -> Rubric:
    rubric = Rubric.objects.create(
        name="Support answers", guidelines="Prefer correct, grounded answers."
    )
    Criterion.objects.create(
        rubric=rubric,
        name="preference",
        kind=CriterionKind.PREFERENCE,
        question="Which response is better?",
        config={"allow_tie": True, "strength_labels": ["slightly", "clearly", "much"]},
        position=0,
    )
    Criterion.objects.create(
        rubric=rubric,
        name="helpfulness",
        kind=CriterionKind.LIKERT,
        question="How helpful is each response?",
        config={"min": 1, "max": 5},
        position=1,
    )
    return rubric


@pytest.fixture
def make_sprint(db, rubric):
    def make(slug: str, **extra) -> Sprint:
        return Sprint.objects.create(
            name=slug.replace("-", " ").title(), slug=slug, rubric=rubric, **extra
        )

    return make


@pytest.fixture
def sprint(make_sprint) -> Sprint:
    return make_sprint("sprint-a", status="active")


@pytest.fixture
def other_sprint(make_sprint) -> Sprint:
    return make_sprint("sprint-b", status="active")


def _member(user, sprint, role):
    SprintMember.objects.create(sprint=sprint, user=user, role=role)
    return user


@pytest.fixture
def lead(make_user, sprint):
    return _member(make_user("lead", is_staff=True), sprint, SprintRole.LEAD)


@pytest.fixture
def annotator(make_user, sprint):
    return _member(make_user("ann1"), sprint, SprintRole.ANNOTATOR)


@pytest.fixture
def reviewer(make_user, sprint):
    return _member(make_user("rev1"), sprint, SprintRole.REVIEWER)


@pytest.fixture
def api_client_for():
    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path: Path) -> Iterator[CeleryWorkerProcess]:
    """A real ``celery -A concord worker`` on the queues default and gpu, reading the test
    database, ready when the test starts and stopped after it. Data the test writes is
    committed (``transactional_db``), so the worker sees it. ``worker.kill()`` sends SIGKILL,
    ``worker.start()`` starts it again; ``worker.log_tail()`` shows what it logged."""
    from django.db import connection

    purge_queues()
    worker = CeleryWorkerProcess(
        database_name=str(connection.settings_dict["NAME"]),
        log_path=tmp_path / "celery-worker.log",
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of moto's standalone S3 server (tests/support/s3_server.py), started once per
    run on a loopback port, holding the bucket ``tests.support.s3_server.BUCKET``."""
    with running_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_store(s3_endpoint, settings, tmp_path) -> S3Objects:
    """This test's artifacts go to the S3 server under a prefix of their own, and its artifact
    cache is a fresh folder; returns direct access to those objects."""
    import uuid

    prefix = f"test-{uuid.uuid4().hex}"
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": artifact_storage_settings(s3_endpoint, prefix),
    }
    settings.CONCORD_ARTIFACT_CACHE_DIR = tmp_path / "artifact-cache"
    return S3Objects(s3_endpoint, prefix)
