"""Celery tasks of the feedback app: thin wrappers that call a service."""

from celery import shared_task

from feedback.services.retention import purge_expired_text


@shared_task(name="feedback.tasks.purge_feedback", ignore_result=True)
def purge_feedback() -> dict[str, int]:
    """Periodic (hourly, see ``CELERY_BEAT_SCHEDULE``): empty the text of events past their
    source's retention period (:mod:`feedback.services.retention`). Returns the counts per
    source."""
    return purge_expired_text().counts()
