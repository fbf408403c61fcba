"""Celery tasks of the annotation app: thin wrappers that call a service."""

from celery import shared_task

from annotation.services import assignments


@shared_task(name="annotation.tasks.release_expired_leases", ignore_result=True)
def release_expired_leases() -> int:
    """Periodic (see ``CELERY_BEAT_SCHEDULE``): put items with lapsed leases back in the pool."""
    return assignments.release_expired_leases()
