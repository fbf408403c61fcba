"""Celery tasks of the training app: thin wrappers that call a service.

``CELERY_TASK_ROUTES`` sends ``training.tasks.*`` to the ``gpu`` queue; the periodic
retraining check is light database work, so its beat entry names the ``default`` queue (an
explicit queue wins over a route). ``fail_abandoned_training_runs`` has no beat entry of its
own any more: the background-job sweep runs the same check every minute.

``train_reward_model`` is acknowledged when a worker takes it (``acks_late=False``, against the
project-wide default): a run can take hours, and a redelivered message would train it again from
the start, on Redis even while the first worker is still at it (after the visibility
timeout). The job row and the run row are the state instead: the task claims only a queued job
and the run by a conditional update, so a duplicate message does nothing while a worker is at
it. A run whose worker died stops beating; the background-job sweep
(annotation.services.job_sweep) then queues its job again after
``CONCORD_TRAINING_STALL_SECONDS``, and the next worker trains it again from scratch, once;
after a second loss the run is failed with the reason.
"""

from celery import shared_task

from annotation.services.jobs import run_job
from training.services import evaluations, registry, runs, selection_jobs


@shared_task(
    name="training.tasks.train_reward_model",
    ignore_result=True,
    acks_late=False,
    reject_on_worker_lost=False,
)
def train_reward_model(run_id: int, job_id: int | None = None) -> str | None:
    """Train the queued run ``run_id`` (see :func:`training.services.runs.execute_training_run`)
    as background job ``job_id`` (annotation.services.jobs: a job already done is not run
    again, and a run already taken is never trained twice)."""
    run = run_job(job_id, lambda: runs.execute_training_run(run_id), only_queued=True)
    return run.status if run is not None else None


@shared_task(name="training.tasks.select_next_sprint", ignore_result=True)
def select_next_sprint(selection_id: int, job_id: int | None = None) -> str | None:
    """Score the pool of the queued selection ``selection_id`` and build its next sprint (see
    :func:`training.services.selection_jobs.execute_selection`) as background job ``job_id``.
    Only a queued job is claimed: a message redelivered while a worker scores (the broker's
    visibility timeout) does nothing; a dead worker's job is queued again by the sweep."""
    selection = run_job(
        job_id, lambda: selection_jobs.execute_selection(selection_id), only_queued=True
    )
    return selection.status if selection is not None else None


@shared_task(
    name="training.tasks.evaluate_policy",
    ignore_result=True,
    acks_late=False,
    reject_on_worker_lost=False,
)
def evaluate_policy(evaluation_id: int, job_id: int | None = None) -> str | None:
    """Generate both policies' responses for the queued evaluation ``evaluation_id`` and make
    its blind sprint (see :func:`training.services.evaluations.execute_evaluation`) as
    background job ``job_id``. Acknowledged when taken, like a training run (generation can
    take long): only a queued job is claimed, and a dead worker's job is queued again by the
    sweep, which starts the evaluation again from scratch (its generation is seeded)."""
    evaluation = run_job(
        job_id, lambda: evaluations.execute_evaluation(evaluation_id), only_queued=True
    )
    return evaluation.status if evaluation is not None else None


@shared_task(name="training.tasks.retrain_reward_models", ignore_result=True)
def retrain_reward_models() -> list[str]:
    """Periodic: start retraining runs for production models whose sprints gained enough new
    consensus labels (see :mod:`training.services.registry`)."""
    return [
        f"{check.model}: {check.outcome} ({check.new_labels} new labels)"
        for check in registry.start_due_retrainings()
    ]


@shared_task(name="training.tasks.fail_abandoned_training_runs", ignore_result=True)
def fail_abandoned_training_runs() -> int:
    """Fail running runs whose worker stopped reporting and that no job will start again."""
    return runs.fail_abandoned_runs()
