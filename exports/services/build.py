"""Starting an export and building its file: the one door for both.

``start_export`` is what the REST view, the admin and ``manage.py export_dataset`` call; it
stores the request and enqueues the build on commit. ``build_dataset`` is what the Celery task
(or the command, in-process) calls. Its guarantees:

- Idempotent: a finished (done or failed) export is returned as it is; nothing is rebuilt.
- At most one build publishes. Each build claims the export under a row lock with a fresh
  ``attempt`` token and stamps ``heartbeat_at`` as it writes. A second build that finds a live
  heartbeat raises :class:`ExportBusy` (the task retries later); one that finds a stale
  heartbeat (the last build died) takes over with its own token, deletes the dead build's
  leftovers (exports.services.files) and starts again from the first row. A build whose
  token was taken over stops at its next heartbeat, or at the latest when it tries to publish,
  and raises :class:`ExportSuperseded` without touching the file.
- A reader sees the whole file or none (exports.services.files): the rows go to a local
  partial file, hashed while written and fsynced, then published to the artifact store
  (renamed into place, or uploaded to S3) under the row lock, in the same step as the status
  becomes done. The SHA-256 recorded is that of the bytes published.

Retries come from three places: the broker redelivers the message of a worker that died (tasks
are acknowledged late); the background-job sweep (annotation.services.job_sweep) publishes again
a build job whose message was lost (a broker that was down) or whose heartbeat went stale; and
``resume_stalled_exports``, which that sweep runs too, re-enqueues exports whose heartbeat went
stale without a job (a build run in-process by the command), which also covers the filesystem
broker, which forgets a message once a worker has taken it.

Settings: ``CONCORD_EXPORT_STALL_SECONDS`` (600), how old a heartbeat must be before another
build may take over, and ``CONCORD_EXPORT_ROW_DELAY`` (0; see exports.services.export_file), a
test-only brake.
"""

import gc
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, InterfaceError, transaction
from django.utils import timezone

from annotation.services import artifact_store
from annotation.services.audit import record_event
from annotation.services.jobs import beat, enqueue_on_commit
from exports.models import DatasetVersion, ExportStatus
from exports.services import files
from exports.services.export_file import columns_of, write_export_file
from exports.services.labels import ExportCounts
from exports.services.manifest import build_manifest, sprint_entries
from exports.services.production_rows import ProductionCounts
from exports.services.requests import validate_export_request

# The heartbeat is stamped every BEAT_SECONDS, or a quarter of the stall time if that is shorter.
BEAT_SECONDS = 5.0
# Worth another try with backoff: the database, the disk or the artifact store may be back.
# Anything else is a bug or bad data, and a retry would fail the same way.
RETRYABLE_ERRORS = (DatabaseError, InterfaceError, OSError, *artifact_store.STORE_UNAVAILABLE)
# The background-job kind of a build (registered in exports.apps).
EXPORT_JOB = "export"


class ExportBusy(Exception):
    """Another build of this export is alive; try again in ``retry_in`` seconds."""

    def __init__(self, dataset_id: int, retry_in: float) -> None:
        super().__init__(f"export {dataset_id} is being built by another worker")
        self.retry_in = retry_in


class ExportSuperseded(Exception):
    """A later build took this export over; this one stopped and published nothing."""


def stall_after() -> timedelta:
    return timedelta(seconds=settings.CONCORD_EXPORT_STALL_SECONDS)


def start_export(
    user: AbstractBaseUser, data: Any, *, enqueue_build: bool = True
) -> DatasetVersion:
    """Validate the request (exports.services.requests: nothing is stored when it fails),
    store it as a queued export, audit it, and enqueue its build once the row is committed,
    unless the caller builds it in-process (``enqueue_build=False``)."""
    request = validate_export_request(user, data)
    with transaction.atomic():
        dataset = DatasetVersion.objects.create(
            kind=request.kind, format=request.format, filters=request.filters,
            production=request.production, created_by=user,
        )  # fmt: skip
        dataset.sprints.set(request.sprints)
        dataset.feedback_sources.set(request.feedback_sources)
        changes = {"kind": request.kind, "format": request.format, "filters": request.filters}
        if request.production is not None:
            changes["production"] = request.production
        # One event per sprint, so each sprint's log shows it; one without a sprint when the
        # export holds production pairs alone.
        for sprint in request.sprints or [None]:
            record_event(user, "export.started", dataset, sprint=sprint, changes=changes)
        if enqueue_build:
            enqueue(dataset.pk)
    return dataset


def enqueue(dataset_id: int) -> None:
    """Send the build to a worker when the current transaction commits (at once outside one),
    as a background job (annotation.services.jobs): a broker that is down never fails the
    caller, and the job sweep publishes it again."""
    enqueue_on_commit(EXPORT_JOB, dataset_id)


def build_dataset(dataset_id: int, on_rows: Callable[[int], None] | None = None) -> DatasetVersion:
    """Build the file of one export (see the module docstring for the guarantees). ``on_rows``
    is told how many rows were built, now and then (a progress bar). Database and file-system
    errors propagate for the caller to retry; any other error marks the export failed with its
    reason and propagates."""
    dataset, attempt = _claim(dataset_id)
    if attempt is None:
        return dataset
    files.remove_leftovers(dataset)
    partial = files.partial_path(dataset, attempt)
    heartbeat = _Heartbeat(dataset_id, attempt)
    try:
        sprints = sprint_entries(dataset, on_sprint=heartbeat)
        counts, production = ExportCounts(), ProductionCounts()
        with files.durable_file(partial) as out, _gc_frozen():
            write_export_file(
                dataset, out, counts, heartbeat=heartbeat, on_rows=on_rows, production=production
            )
        manifest = build_manifest(
            dataset, sprints=sprints, columns=columns_of(dataset), counts=counts,
            sha256=out.sha256, size=out.size, production=production,
        )  # fmt: skip
        return _publish(dataset, attempt, partial, counts.rows, out.sha256, manifest)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        expected = (*RETRYABLE_ERRORS, ExportSuperseded, ExportBusy)
        if isinstance(exc, Exception) and not isinstance(exc, expected):
            mark_failed(dataset_id, f"{type(exc).__name__}: {exc}", attempt=attempt)
        raise


@contextmanager
def _gc_frozen() -> Iterator[None]:
    """Python's cycle collector rescans every object of the process (Django, pyarrow, numpy:
    a million or more) now and then while a build allocates its rows, which cost a third of an
    export's time. Freezing the objects that exist before the build takes them out of those
    scans; the build's own garbage is still collected, and unfreezing returns the rest."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _claim(dataset_id: int) -> tuple[DatasetVersion, str | None]:
    with transaction.atomic():
        dataset = DatasetVersion.objects.select_for_update().get(pk=dataset_id)
        if dataset.status in (ExportStatus.DONE, ExportStatus.FAILED):
            return dataset, None
        now = timezone.now()
        live = dataset.heartbeat_at is not None and now - dataset.heartbeat_at < stall_after()
        if dataset.status == ExportStatus.RUNNING and live:
            raise ExportBusy(dataset_id, retry_in=stall_after().total_seconds())
        dataset.status = ExportStatus.RUNNING
        dataset.attempt = uuid.uuid4().hex
        dataset.started_at = dataset.heartbeat_at = now
        dataset.save(update_fields=["status", "attempt", "started_at", "heartbeat_at"])
    return dataset, dataset.attempt


class _Heartbeat:
    """Stamps ``heartbeat_at`` when called, at most every ``interval`` seconds; raises
    :class:`ExportSuperseded` once another build owns the export."""

    def __init__(self, dataset_id: int, attempt: str) -> None:
        self.dataset_id, self.attempt = dataset_id, attempt
        self.interval = min(BEAT_SECONDS, stall_after().total_seconds() / 4)
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last < self.interval:
            return
        stamped = DatasetVersion.objects.filter(
            pk=self.dataset_id, attempt=self.attempt, status=ExportStatus.RUNNING
        ).update(heartbeat_at=timezone.now())
        if not stamped:
            raise ExportSuperseded(f"export {self.dataset_id}: build {self.attempt} was taken over")
        beat(EXPORT_JOB, self.dataset_id)
        self.last = time.monotonic()


def _publish(
    dataset: DatasetVersion, attempt: str, partial, row_count: int, sha256: str, manifest: dict
) -> DatasetVersion:
    with transaction.atomic():
        current = DatasetVersion.objects.select_for_update().get(pk=dataset.pk)
        if current.attempt != attempt or current.status != ExportStatus.RUNNING:
            raise ExportSuperseded(f"export {dataset.pk}: build {attempt} was taken over")
        # Under the row lock, so a build that was taken over never overwrites the store.
        name = files.publish(partial, current, manifest)
        current.status = ExportStatus.DONE
        current.rows = row_count
        current.sha256 = sha256
        current.manifest = manifest
        current.file_path = name
        current.finished_at = timezone.now()
        current.error = ""
        current.save(
            update_fields=["status", "rows", "sha256", "manifest", "file_path", "finished_at",
                           "error"]
        )  # fmt: skip
    return current


def mark_failed(dataset_id: int, reason: str, *, attempt: str | None = None) -> None:
    """Fail an unfinished export with its reason; with ``attempt``, only if that build still
    owns it (a superseded build must not fail the build that replaced it)."""
    unfinished = DatasetVersion.objects.filter(pk=dataset_id).exclude(status=ExportStatus.DONE)
    if attempt is not None:
        unfinished = unfinished.filter(attempt=attempt)
    unfinished.update(status=ExportStatus.FAILED, error=reason[:5000], finished_at=timezone.now())


def resume_stalled_exports(stalled_after: timedelta | None = None) -> list[int]:
    """Re-enqueue exports whose build stopped: running with a heartbeat older than
    ``stalled_after`` (default ``CONCORD_EXPORT_STALL_SECONDS``), or queued for longer than
    that (a message the broker lost). Returns their ids. Safe to run any time: a build that is
    in fact alive makes the extra message wait (:class:`ExportBusy`), a finished one ignores it."""
    cutoff = timezone.now() - (stalled_after if stalled_after is not None else stall_after())
    stalled = list(
        DatasetVersion.objects.filter(
            status__in=[ExportStatus.RUNNING, ExportStatus.QUEUED], created_at__lte=cutoff
        )
        .exclude(heartbeat_at__gt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for dataset_id in stalled:
        enqueue(dataset_id)
    return stalled
