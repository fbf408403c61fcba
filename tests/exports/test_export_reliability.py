"""Builds that run twice, die, race or fail: at most one publishes, a finished export is never
rebuilt, a reader never sees a partial file, and bad data fails the export with its reason."""

import hashlib
import io
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from exports.models import DatasetVersion, ExportStatus
from exports.services.build import (
    ExportBusy,
    ExportSuperseded,
    build_dataset,
    resume_stalled_exports,
    start_export,
)
from exports.services.files import HashingWriter, final_path, partial_path
from exports.services.pipeline import build_in_thread
from exports.tasks import build_dataset_task
from reviews.models import ConsensusLabel
from tests.exports.export_fixtures import export, labelled_item


def queued(lead, sprint) -> DatasetVersion:
    return start_export(lead, {"sprints": [sprint.pk]}, enqueue_build=False)


@pytest.mark.django_db
def test_a_finished_export_is_not_rebuilt(lead, sprint):
    labelled_item(sprint, 1)
    dataset = export(lead, sprint)
    before = final_path(dataset).stat()
    labelled_item(sprint, 2)  # new data must not change a published version
    again = build_dataset(dataset.pk)
    assert (again.rows, again.sha256) == (dataset.rows, dataset.sha256)
    assert final_path(dataset).stat().st_mtime_ns == before.st_mtime_ns
    assert build_dataset_task.apply(args=[dataset.pk]).successful()


@pytest.mark.django_db
def test_a_live_build_makes_a_second_one_wait(lead, sprint):
    dataset = queued(lead, sprint)
    DatasetVersion.objects.filter(pk=dataset.pk).update(
        status=ExportStatus.RUNNING, attempt="someone", heartbeat_at=timezone.now()
    )
    with pytest.raises(ExportBusy):
        build_dataset(dataset.pk)
    assert build_dataset_task.apply(args=[dataset.pk]).successful()  # in-process: no waiting
    assert DatasetVersion.objects.get(pk=dataset.pk).attempt == "someone"


@pytest.mark.django_db
def test_a_dead_build_is_taken_over_and_its_partial_file_removed(lead, sprint):
    labelled_item(sprint, 1)
    dataset = queued(lead, sprint)
    DatasetVersion.objects.filter(pk=dataset.pk).update(
        status=ExportStatus.RUNNING, attempt="dead",
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    leftover = partial_path(dataset, "dead")
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b'{"half a ro')
    built = build_dataset(dataset.pk)
    assert built.status == ExportStatus.DONE and built.rows == 1
    assert built.attempt != "dead"
    assert not leftover.exists()
    assert hashlib.sha256(final_path(built).read_bytes()).hexdigest() == built.sha256


@pytest.mark.django_db(transaction=True)
def test_of_two_racing_builds_only_the_owner_publishes(lead, sprint, settings):
    """Build A is slowed down; while it writes, its heartbeat is made to look dead, so build B
    takes the export over. A must notice and publish nothing; B's file is the export."""
    settings.CONCORD_EXPORT_ROW_DELAY = 0.02
    settings.CONCORD_EXPORT_STALL_SECONDS = 60
    for n in range(60):
        labelled_item(sprint, n)
    dataset = queued(lead, sprint)
    outcome: dict = {}

    def build_a():
        try:
            outcome["a"] = build_dataset(dataset.pk)
        except BaseException as exc:
            outcome["a"] = exc
        finally:
            from django.db import connection

            connection.close()

    first = threading.Thread(target=build_a)
    first.start()
    deadline = time.monotonic() + 30
    while not DatasetVersion.objects.filter(pk=dataset.pk, status="running").exists():
        assert time.monotonic() < deadline, "build A never started"
        time.sleep(0.02)
    DatasetVersion.objects.filter(pk=dataset.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    second = build_dataset(dataset.pk)
    first.join(30)
    assert isinstance(outcome["a"], ExportSuperseded)
    assert second.status == ExportStatus.DONE and second.rows == 60
    data = final_path(second).read_bytes()
    assert hashlib.sha256(data).hexdigest() == second.sha256
    assert len(data.splitlines()) == 60
    assert not list(final_path(second).parent.glob("*.partial-*"))


@pytest.mark.django_db
def test_bad_data_fails_the_export_with_its_reason(lead, sprint):
    item = labelled_item(sprint, 1)
    ConsensusLabel.objects.filter(item=item).update(ranking=5)
    dataset = queued(lead, sprint)
    assert build_dataset_task.apply(args=[dataset.pk]).successful()  # not retried
    dataset.refresh_from_db()
    assert dataset.status == ExportStatus.FAILED and "TypeError" in dataset.error
    assert not final_path(dataset).exists()
    assert not list(final_path(dataset).parent.glob("*.partial-*"))
    assert build_dataset(dataset.pk).status == ExportStatus.FAILED  # and stays failed


@pytest.mark.django_db
def test_the_sweep_resumes_only_stalled_exports(lead, sprint, django_capture_on_commit_callbacks):
    long_ago = timezone.now() - timedelta(hours=1)
    lost = queued(lead, sprint)
    dead = queued(lead, sprint)
    alive = queued(lead, sprint)
    fresh = queued(lead, sprint)
    done = queued(lead, sprint)
    DatasetVersion.objects.filter(pk__in=[lost.pk, dead.pk, alive.pk, done.pk]).update(
        created_at=long_ago
    )
    DatasetVersion.objects.filter(pk=dead.pk).update(status="running", heartbeat_at=long_ago)
    DatasetVersion.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=timezone.now())
    DatasetVersion.objects.filter(pk=done.pk).update(status="done")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert resume_stalled_exports() == [lost.pk, dead.pk]
    assert len(callbacks) == 2
    assert fresh.pk not in resume_stalled_exports()


def test_the_hashing_writer_hashes_what_it_writes_and_leaves_the_file_open():
    sink = io.BytesIO()
    writer = HashingWriter(sink)
    for part in (b"hello ", bytearray(b"world"), memoryview(b"!")):
        writer.write(part)
    writer.close()
    assert not sink.closed and sink.getvalue() == b"hello world!"
    assert writer.sha256 == hashlib.sha256(b"hello world!").hexdigest() and writer.size == 12


def test_an_error_in_the_builder_thread_reaches_the_caller():
    def consume(chunks):
        for chunk in chunks:
            if chunk == 3:
                raise ValueError("bad chunk")

    with pytest.raises(ValueError, match="bad chunk"):
        build_in_thread(iter(range(100)), consume)
    assert not [t for t in threading.enumerate() if t.name == "export-builder"]


def test_an_error_while_reading_stops_the_builder():
    seen = []

    def chunks():
        yield 1
        yield 2
        raise ConnectionError("database gone")

    with pytest.raises(ConnectionError):
        build_in_thread(chunks(), lambda it: seen.extend(it))
    assert not [t for t in threading.enumerate() if t.name == "export-builder"]
    assert seen in ([1], [1, 2], [])


def test_a_heartbeat_that_finds_the_build_taken_over_stops_the_builder():
    def slow_consume(chunks):
        for _ in chunks:
            time.sleep(0.3)

    def heartbeat():
        raise ExportSuperseded("taken over")

    with pytest.raises(ExportSuperseded):
        build_in_thread(iter(range(3)), slow_consume, on_wait=heartbeat)
    assert not [t for t in threading.enumerate() if t.name == "export-builder"]
