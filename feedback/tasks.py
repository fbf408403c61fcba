"""Celery tasks of the feedback app: thin wrappers that call a service."""

from celery import shared_task

from annotation.services.jobs import run_job
from feedback.services import sampling
from feedback.services.retention import purge_expired_text


@shared_task(name="feedback.tasks.purge_feedback", ignore_result=True)
def purge_feedback() -> dict[str, int]:
    """Periodic (hourly, see ``CELERY_BEAT_SCHEDULE``): empty the text of events past their
    source's retention period (:mod:`feedback.services.retention`). Returns the counts per
    source."""
    return purge_expired_text().counts()


@shared_task(name="feedback.tasks.draw_feedback_sample", ignore_result=True)
def draw_feedback_sample(sample_id: int, job_id: int | None = None) -> str | None:
    """Draw the queued sample ``sample_id`` into its sprint as background job ``job_id``. Only
    a queued job is claimed: a message redelivered while a worker draws does nothing; a dead
    worker's job is queued again by the sweep (the sample writes nothing until its end)."""
    sample = run_job(job_id, lambda: sampling.run_sample(sample_id), only_queued=True)
    return sample.status if sample is not None else None
