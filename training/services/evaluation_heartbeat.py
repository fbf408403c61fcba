"""The heartbeat and progress of a running evaluation (:mod:`training.services.evaluations`).

A running evaluation stamps ``heartbeat_at`` and beats its background job
(:func:`annotation.services.jobs.beat`) with every progress write while it generates, and from a
timer thread for the whole of its work (loading a large policy sends no progress for minutes),
so a worker that was killed stops beating at once and the job sweep finds it after
``CONCORD_TRAINING_STALL_SECONDS``.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotation.services.jobs import beat
from training.models import PolicyEvaluation, RunStatus

logger = logging.getLogger(__name__)

# The background-job kind of an evaluation (registered in training.apps).
EVALUATION_JOB = "evaluation"
# Progress: each side's generation, then the sprint and the automatic first look.
GENERATION_SHARE = 0.45


def stall_after() -> timedelta:
    """How long a running evaluation may go without a heartbeat before its worker counts as
    lost (``CONCORD_TRAINING_STALL_SECONDS``, as for training runs on the same queue)."""
    return timedelta(seconds=settings.CONCORD_TRAINING_STALL_SECONDS)


def beat_evaluation(evaluation_id: int, progress: float | None = None) -> None:
    """Stamp the heartbeat (and ``progress``, when given) of a running evaluation and its job."""
    values: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if progress is not None:
        values["progress"] = round(min(1.0, progress), 4)
    PolicyEvaluation.objects.filter(pk=evaluation_id, status=RunStatus.RUNNING).update(**values)
    beat(EVALUATION_JOB, evaluation_id)


class EvaluationHeartbeat:
    """Beats evaluation ``evaluation_id`` from a daemon thread every quarter of the stall time
    (at most every 30 s) between ``start()`` and ``stop()``: loading a large policy sends no
    progress for minutes. A killed worker stops beating at once."""

    def __init__(self, evaluation_id: int) -> None:
        self.evaluation_id = evaluation_id
        self.interval = min(30.0, settings.CONCORD_TRAINING_STALL_SECONDS / 4)
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, daemon=True, name=f"heartbeat-evaluation-{evaluation_id}"
        )

    def start(self) -> "EvaluationHeartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)

    def _loop(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    beat_evaluation(self.evaluation_id)
                except Exception:  # a lost beat is retried at the next tick
                    logger.warning("evaluation %s: heartbeat not written", self.evaluation_id)
        finally:
            connection.close()  # this thread's own connection


def progress_writer(
    evaluation_id: int, offset: float, on_progress: Callable[[float], None] | None
) -> Callable[[int, int], None]:
    """``on_batch`` for one side's generation: progress from ``offset`` over that side's share,
    written at most once per ``CONCORD_TRAINING_POLL_SECONDS`` (and for the last batch)."""
    last = [float("-inf")]

    def write(done: int, total: int) -> None:
        progress = offset + GENERATION_SHARE * done / max(1, total)
        if on_progress is not None:
            on_progress(progress)
        now = time.monotonic()
        if done < total and now - last[0] < settings.CONCORD_TRAINING_POLL_SECONDS:
            return
        last[0] = now
        beat_evaluation(evaluation_id, progress)

    return write
