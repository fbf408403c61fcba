"""Celery tasks of the annotation app: thin wrappers that call a service."""

from celery import shared_task

from annotation.services import assignments, job_sweep


@shared_task(name="annotation.tasks.release_expired_leases", ignore_result=True)
def release_expired_leases() -> int:
    """Periodic (see ``CELERY_BEAT_SCHEDULE``): put items with lapsed leases back in the pool."""
    return assignments.release_expired_leases()


@shared_task(name="annotation.tasks.sweep_background_jobs", ignore_result=True)
def sweep_background_jobs() -> dict:
    """Periodic (every minute): publish again the background jobs whose message was lost or
    whose worker died (see :mod:`annotation.services.job_sweep`)."""
    report = job_sweep.sweep_background_jobs()
    return {"republished": len(report.republished), "failed": len(report.failed),
            "deleted": report.deleted, "broker_down": report.broker_down}  # fmt: skip
