"""The Celery task of feedback samples: a thin wrapper around
:func:`feedback.services.sampling.run_sample`. In its own module (imported by
``feedback.apps``, so a worker knows the task) beside ``feedback.tasks``."""

from celery import shared_task

from annotation.services.jobs import run_job
from feedback.services import sampling


@shared_task(name="feedback.sample_tasks.draw_feedback_sample", ignore_result=True)
def draw_feedback_sample(sample_id: int, job_id: int | None = None) -> str | None:
    """Draw the queued sample ``sample_id`` into its sprint as background job ``job_id``. Only
    a queued job is claimed: a message redelivered while a worker draws does nothing; a dead
    worker's job is queued again by the sweep (the sample writes nothing until its end)."""
    sample = run_job(job_id, lambda: sampling.run_sample(sample_id), only_queued=True)
    return sample.status if sample is not None else None
