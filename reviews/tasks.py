"""Celery tasks of the reviews app: thin wrappers that call the services.

``review_item`` is enqueued after commit whenever a judgment or an item flag is saved (see
reviews.signals); ``review_sprint`` sweeps one sprint (the command, the beat safety net);
``review_active_sprints`` enqueues a sweep of every active sprint, for the beat schedule.
A lock timeout or deadlock is retried: the services are idempotent.
"""

from celery import shared_task
from django.db import OperationalError

from annotation.models import Sprint, SprintStatus
from annotation.services.jobs import run_job
from reviews.services import disputes


@shared_task(
    name="reviews.tasks.review_item",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def review_item(item_id: int, job_id: int | None = None) -> list[str] | None:
    """Refresh one item's consensus label and open or extend its dispute, as background job
    ``job_id`` (annotation.services.jobs: a job already done is not run again)."""
    dispute = run_job(job_id, lambda: disputes.review_item(item_id))
    return None if dispute is None else dispute.reasons


@shared_task(
    name="reviews.tasks.review_sprint",
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def review_sprint(sprint_id: int) -> dict | None:
    """Recompute one sprint's consensus and sweep its items for disputes."""
    sprint = Sprint.objects.filter(pk=sprint_id).first()
    return None if sprint is None else disputes.review_sprint(sprint)


@shared_task(name="reviews.tasks.review_active_sprints", ignore_result=True)
def review_active_sprints() -> int:
    """Periodic: enqueue a sweep of every active sprint; returns how many."""
    ids = list(Sprint.objects.filter(status=SprintStatus.ACTIVE).values_list("pk", flat=True))
    for sprint_id in ids:
        review_sprint.delay(sprint_id)
    return len(ids)
