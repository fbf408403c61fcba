"""Background jobs: the one way any app of Concord hands work to a Celery worker.

A write that needs work done later (a judgment's review, an export's build, a training run)
calls :func:`enqueue_on_commit` inside its transaction. It guarantees:

- A durable row. A :class:`~annotation.models.BackgroundJob` is stored in the caller's
  transaction, so the work is remembered exactly when the write is, and the message is sent
  only once the transaction commits (at once outside one): a worker never sees a row that
  was rolled back.
- The request never fails because of the broker. Publishing is bounded by the broker timeouts
  in settings (``CONCORD_BROKER_TIMEOUT``); any error is logged, noted on the job row
  (:func:`queue_warning` then tells the caller "queued, the workers are unreachable") and
  swallowed. The beat sweep (:mod:`annotation.services.job_sweep`) publishes the job again.
- Idempotent execution. The task runs its work through :func:`run_job`, which claims the job
  and does nothing for a job that is already done or failed, so a redelivered or re-published
  message is harmless.

Apps above this floor register their kinds (:func:`register_job_kind`, in their
``AppConfig.ready``): the task to run, how long a running job may go without a heartbeat, how
many starts it gets, and what to do with one that is abandoned. This module never imports them.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from celery.exceptions import Retry
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from annotation.models import BackgroundJob, JobStatus

logger = logging.getLogger(__name__)

T = TypeVar("T")
UNREACHABLE = "Queued, but the workers are unreachable"


def default_stall_after() -> timedelta:
    """How long a running job of a kind without its own stall time may go without a heartbeat."""
    return timedelta(seconds=settings.CONCORD_JOB_STALL_SECONDS)


@dataclass(frozen=True)
class JobKind:
    """One kind of background job. ``task`` is the dotted path of a Celery task, imported when
    a job is first published and called as ``task(*job.args, job_id=job.pk)``; it does its
    work through :func:`run_job`.
    ``stall_after``: a running job whose heartbeat is older is started again (or, after
    ``max_attempts`` starts, failed and handed to ``on_abandoned(key, reason)``). ``sweep``,
    if given, is the kind's own periodic check for work done outside jobs; the beat sweep
    calls it."""

    name: str
    task: str
    stall_after: Callable[[], timedelta] = default_stall_after
    max_attempts: int = 3
    on_abandoned: Callable[[str, str], None] | None = None
    sweep: Callable[[], object] | None = None


_KINDS: dict[str, JobKind] = {}


def register_job_kind(kind: JobKind) -> None:
    """Make ``kind`` known to the helper and the sweep (registering it again replaces it)."""
    _KINDS[kind.name] = kind


def job_kind(name: str) -> JobKind:
    return _KINDS[name]


def job_kinds() -> list[JobKind]:
    return list(_KINDS.values())


def enqueue_on_commit(kind: str, target: int | str, *args: Any) -> BackgroundJob:
    """Store a queued job of ``kind`` for ``target`` (the task gets ``target, *args``) and
    publish it once the current transaction commits; see the module docstring for what is
    guaranteed. Returns the stored row."""
    job_kind(kind)  # an unknown kind is a bug: fail before anything is stored
    now = timezone.now()
    job = BackgroundJob.objects.create(
        kind=kind, key=str(target), args=[target, *args], enqueued_at=now,
        published_at=now, publishes=1,
    )  # fmt: skip
    job_id, job_args = job.pk, job.args

    def publish_background_job() -> None:
        publish(job_id, kind, job_args)

    # A named function: Django's robust on-commit handler logs the callback's __qualname__.
    transaction.on_commit(publish_background_job, robust=True)
    return job


def publish(job_id: int, kind: str, args: list[Any]) -> bool:
    """Hand one job to the broker. Never raises: a refusal is logged and written on the job
    (``published_at`` emptied, ``last_error`` saying why) for the sweep and the API to see.
    Returns whether the broker took the message."""
    try:
        import_string(job_kind(kind).task).apply_async(args=args, kwargs={"job_id": job_id})
    except Exception as exc:  # any broker or transport error: the write has already succeeded
        logger.warning("job %s (%s) not published, the broker refused it: %r", job_id, kind, exc)
        try:
            BackgroundJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
                published_at=None, last_error=f"{UNREACHABLE}: {type(exc).__name__}: {exc}"[:2000]
            )
        except Exception:
            logger.exception("job %s: could not record the broker's refusal", job_id)
        return False
    return True


def queue_warning(kind: str, target: int | str) -> str | None:
    """The "queued, the workers are unreachable" note for a target whose latest queued job
    the broker refused; ``None`` when its message was delivered (or it has no such job)."""
    job = (
        BackgroundJob.objects.filter(kind=kind, key=str(target), status=JobStatus.QUEUED)
        .order_by("-pk")
        .values("published_at")
        .first()
    )
    if job is None or job["published_at"] is not None:
        return None
    return f"{UNREACHABLE}; it starts as soon as they are back."


def run_job(job_id: int | None, work: Callable[[], T], *, only_queued: bool = False) -> T | None:
    """Run ``work`` as job ``job_id``: claim it (queued or running -> running, one more
    attempt, heartbeat now), run it, mark it done. A job already done or failed is not run
    (returns ``None``): that is what makes a duplicate message harmless. When ``work`` raises,
    the job goes back to queued for a retry (Celery's or the sweep's), or to failed once it
    has used its kind's ``max_attempts``; the exception propagates. ``job_id=None`` (a message
    sent before jobs existed) just runs ``work``. ``only_queued``: a running job is not claimed
    either (a duplicate message while a worker is at it; the sweep queues a job again once
    its worker stops beating), for kinds whose work must not run twice at once."""
    if job_id is None:
        return work()
    now = timezone.now()
    claimable = [JobStatus.QUEUED] if only_queued else [JobStatus.QUEUED, JobStatus.RUNNING]
    claimed = BackgroundJob.objects.filter(pk=job_id, status__in=claimable).update(
        status=JobStatus.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now
    )
    if not claimed:
        logger.info("job %s is finished or gone; nothing to do", job_id)
        return None
    try:
        result = work()
    except BaseException as exc:
        _record_error(job_id, exc)
        raise
    BackgroundJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.DONE, finished_at=timezone.now(), last_error=""
    )
    return result


def _record_error(job_id: int, exc: BaseException) -> None:
    job = BackgroundJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).first()
    if job is None:
        return
    reason = f"{type(exc).__name__}: {exc}"[:2000]
    now = timezone.now()
    if isinstance(exc, Retry) or job.attempts < job_kind(job.kind).max_attempts:
        # Celery retries it, or the sweep publishes it again after its back-off.
        update = {"status": JobStatus.QUEUED, "published_at": now, "last_error": reason}
    else:
        update = {"status": JobStatus.FAILED, "finished_at": now, "last_error": reason}
    BackgroundJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(**update)


def beat(kind: str, target: int | str) -> None:
    """Stamp the heartbeat of the running jobs of ``kind`` for ``target``: a long job calls it
    as it works, so that the sweep can tell it from a job whose worker died."""
    BackgroundJob.objects.filter(kind=kind, key=str(target), status=JobStatus.RUNNING).update(
        heartbeat_at=timezone.now()
    )
