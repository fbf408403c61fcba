"""The one beat sweep over background jobs (``annotation.tasks.sweep_background_jobs``, every
minute): it finds again the work whose message was lost or whose worker died, for every
registered kind, and publishes it through :func:`annotation.services.jobs.publish`.

- A queued job the broker refused is published again at the next sweep.
- A queued job no worker has started ``CONCORD_JOB_REQUEUE_SECONDS`` after it was published is
  published again, and then after twice that, four times... (at most 64 times it), so a job
  that merely waits behind a long queue costs a few duplicate messages, which do nothing.
- A running job whose heartbeat is older than its kind's stall time is queued and published
  again; after its kind's ``max_attempts`` starts it is failed instead and handed to the
  kind's ``on_abandoned``.
- Finished jobs older than ``CONCORD_JOB_KEEP_DAYS`` are deleted; each kind's own ``sweep``
  runs last.

Safe to run at any time and in parallel with workers: every change is a conditional update
on the job's status, and the tasks are idempotent. When the broker refuses a message the sweep
stops publishing until its next run (each refusal costs the broker timeout).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from annotation.models import BackgroundJob, JobStatus
from annotation.services.jobs import job_kind, job_kinds, publish

logger = logging.getLogger(__name__)

# At most this many jobs are published per sweep, oldest first; the next sweep takes the rest.
BATCH = 5000
MAX_BACKOFF_DOUBLINGS = 6


@dataclass
class SweepReport:
    republished: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    deleted: int = 0
    broker_down: bool = False


def sweep_background_jobs(now: datetime | None = None) -> SweepReport:
    """Run the sweep described in the module docstring once; returns what it did."""
    now = now or timezone.now()
    report = SweepReport()
    _restart_stalled(now, report)
    _republish_lost(now, report)
    keep = timedelta(days=settings.CONCORD_JOB_KEEP_DAYS)
    report.deleted, _ = BackgroundJob.objects.filter(
        status__in=[JobStatus.DONE, JobStatus.FAILED], finished_at__lt=now - keep
    ).delete()
    for kind in job_kinds():
        if kind.sweep is not None:
            try:
                kind.sweep()
            except Exception:
                logger.exception("the %s sweep failed", kind.name)
    return report


def _restart_stalled(now: datetime, report: SweepReport) -> None:
    for kind in job_kinds():
        stalled = BackgroundJob.objects.filter(
            kind=kind.name, status=JobStatus.RUNNING, heartbeat_at__lt=now - kind.stall_after()
        ).order_by("pk")[:BATCH]
        for job in stalled:
            if job.attempts >= kind.max_attempts:
                _fail_abandoned(job, now, report)
                continue
            requeued = BackgroundJob.objects.filter(
                pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=job.heartbeat_at
            ).update(
                status=JobStatus.QUEUED,
                last_error=f"The worker stopped reporting after start {job.attempts}.",
            )
            if requeued and not _publish_again(job, now, report):
                return


def _fail_abandoned(job: BackgroundJob, now: datetime, report: SweepReport) -> None:
    kind = job_kind(job.kind)
    reason = (
        f"The worker stopped reporting for {kind.stall_after().total_seconds():g} s after "
        f"{job.attempts} start(s) (it was killed or lost); start it again."
    )
    failed = BackgroundJob.objects.filter(
        pk=job.pk, status=JobStatus.RUNNING, heartbeat_at=job.heartbeat_at
    ).update(status=JobStatus.FAILED, finished_at=now, last_error=reason)
    if failed:
        report.failed.append(job.pk)
        if kind.on_abandoned is not None:
            kind.on_abandoned(job.key, reason)


def _republish_lost(now: datetime, report: SweepReport) -> None:
    if report.broker_down:
        return
    requeue = timedelta(seconds=settings.CONCORD_JOB_REQUEUE_SECONDS)
    kinds = [kind.name for kind in job_kinds()]
    candidates = BackgroundJob.objects.filter(
        Q(published_at__isnull=True) | Q(published_at__lt=now - requeue),
        status=JobStatus.QUEUED,
        kind__in=kinds,
    ).order_by("enqueued_at", "pk")[:BATCH]
    for job in candidates:
        if job.published_at is not None:
            wait = requeue * 2 ** min(max(job.publishes - 1, 0), MAX_BACKOFF_DOUBLINGS)
            if job.published_at >= now - wait:
                continue
        if not _publish_again(job, now, report):
            return


def _publish_again(job: BackgroundJob, now: datetime, report: SweepReport) -> bool:
    BackgroundJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        published_at=now, publishes=F("publishes") + 1
    )
    if publish(job.pk, job.kind, job.args):
        report.republished.append(job.pk)
        return True
    report.broker_down = True
    return False
