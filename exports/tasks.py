"""Celery tasks of the exports app: thin wrappers around exports.services.build.

The build task is acknowledged late and rejected when its worker is lost, so a message whose
worker died goes back to the queue (with Redis, after the broker's visibility timeout); the
build itself is idempotent, so running it again is always safe.
"""

import logging

from celery import shared_task

from annotation.services.jobs import run_job
from exports.models import DatasetVersion
from exports.services import build

log = logging.getLogger(__name__)
# How many times a message waits for another live build of its export (each wait is the stall
# time, 10 minutes by default): far longer than any build, which ends or goes stale first.
BUSY_RETRIES = 1000


@shared_task(
    name="exports.tasks.build_dataset",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=build.RETRYABLE_ERRORS,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def build_dataset_task(self, dataset_id: int, job_id: int | None = None) -> None:
    """Build one export, as background job ``job_id`` (annotation.services.jobs: a job already
    done is not run again). Database and disk errors are retried with exponential backoff (5 s,
    10 s, ... up to 5 minutes, 5 times), then fail the export; another live build of the same
    export makes this one wait the stall time and try again (a build that died stops looking
    alive by then); any other error has already failed the export with its reason, and is not
    retried."""
    run_job(job_id, lambda: _build(self, dataset_id))


def _build(self, dataset_id: int) -> None:
    try:
        build.build_dataset(dataset_id)
    except build.ExportBusy as busy:
        if self.request.is_eager:  # nothing to wait for in-process: the live build finishes it
            log.info("%s", busy)
            return
        raise self.retry(countdown=busy.retry_in, max_retries=BUSY_RETRIES) from busy
    except build.ExportSuperseded as superseded:
        log.info("%s", superseded)
    except DatasetVersion.DoesNotExist:
        log.warning("export %s no longer exists", dataset_id)
    except build.RETRYABLE_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            build.mark_failed(dataset_id, f"{type(exc).__name__}: {exc}")
            return
        raise
    except Exception:
        log.exception("export %s failed", dataset_id)


@shared_task(name="exports.tasks.resume_stalled_exports", ignore_result=True)
def resume_stalled_exports() -> list[int]:
    """Periodic (CELERY_BEAT_SCHEDULE): re-enqueue exports whose build died."""
    return build.resume_stalled_exports()
