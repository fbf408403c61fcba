"""Exports built by a real Celery worker process through the configured broker (Redis and
PostgreSQL in CI, the filesystem broker and SQLite otherwise), including a worker killed with
SIGKILL in the middle of writing the file."""

import hashlib
import time

import orjson
import pytest
from django.conf import settings

from exports.models import DatasetVersion
from exports.services.files import final_path
from tests.exports.export_fixtures import labelled_item

pytestmark = [pytest.mark.worker]

WORKER_SETTINGS = "tests.exports.worker_settings"


def wait_for(predicate, timeout: float, worker, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{worker.log_tail()}")


def status(pk: int) -> str:
    return DatasetVersion.objects.values_list("status", flat=True).get(pk=pk)


def restart(worker, **env: str) -> None:
    worker.stop()
    worker.extra_env.update({"DJANGO_SETTINGS_MODULE": WORKER_SETTINGS, **env})
    worker.start()


def test_worker_builds_an_export_started_through_the_api(
    celery_worker_process, lead, sprint, api_client_for
):
    for n in range(20):
        labelled_item(sprint, n)
    client = api_client_for(lead)
    response = client.post(
        "/api/v1/exports", {"sprints": [sprint.pk], "format": "parquet"}, format="json"
    )
    assert response.status_code == 202
    pk = response.json()["id"]
    wait_for(lambda: status(pk) == "done", 60, celery_worker_process, "the export")
    detail = client.get(f"/api/v1/exports/{pk}").json()
    body = b"".join(client.get(f"/api/v1/exports/{pk}/download").streaming_content)
    assert hashlib.sha256(body).hexdigest() == detail["sha256"] == detail["manifest"]["sha256"]
    assert detail["rows"] == 20 and body.startswith(b"PAR1")


def test_a_worker_killed_mid_export_leaves_no_file_and_a_retry_completes_it(
    celery_worker_process, lead, sprint, api_client_for
):
    """The worker runs with tests/exports/worker_settings.py: a brake of 50 ms a row makes the
    build of 120 rows last six seconds, so the kill lands while the file is being written.
    With Redis, the message the dead worker had taken comes back after the (shortened)
    visibility timeout; the filesystem broker forgets a taken message, so there the periodic
    sweep's work is done by hand. Either way the next worker, once the dead build's heartbeat is
    stale, starts over and must produce the file an undisturbed build would."""
    worker = celery_worker_process
    restart(worker, CONCORD_TEST_EXPORT_ROW_DELAY="0.05")
    for n in range(120):
        labelled_item(sprint, n)
    client = api_client_for(lead)
    pk = client.post("/api/v1/exports", {"sprints": [sprint.pk]}, format="json").json()["id"]
    folder = settings.DATA_DIR / "exports"
    wait_for(lambda: status(pk) == "running", 60, worker, "the build to start")
    wait_for(lambda: list(folder.glob(f"dataset-{pk}.*.partial-*")), 30, worker, "a partial file")
    time.sleep(1)
    worker.kill()
    dataset = DatasetVersion.objects.get(pk=pk)
    assert dataset.status == "running"
    assert not final_path(dataset).exists()
    dead_attempt = dataset.attempt

    restart(worker, CONCORD_TEST_EXPORT_ROW_DELAY="0")
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        from datetime import timedelta

        from django.db import transaction

        from exports.services.build import resume_stalled_exports

        with transaction.atomic():
            assert resume_stalled_exports(timedelta(seconds=0)) == [pk]
    wait_for(lambda: status(pk) == "done", 90, worker, "the retried export")

    dataset = DatasetVersion.objects.get(pk=pk)
    assert dataset.attempt != dead_attempt
    data = final_path(dataset).read_bytes()
    assert hashlib.sha256(data).hexdigest() == dataset.sha256
    rows = [orjson.loads(line) for line in data.splitlines()]
    assert len(rows) == dataset.rows == 120
    assert [r["item_id"] for r in rows] == list(
        sprint.items.order_by("pk").values_list("pk", flat=True)
    )
    assert not list(folder.glob(f"dataset-{pk}.*.partial-*"))
