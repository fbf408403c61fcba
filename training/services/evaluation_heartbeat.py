"""The heartbeat and progress of a running evaluation (:mod:`training.services.evaluations`).

A running evaluation stamps ``heartbeat_at`` and beats its background job
(:func:`annotation.services.jobs.beat`) with every progress write while it generates, and from a
timer thread for the whole of its work (loading a large policy sends no progress for minutes),
so a worker that was killed stops beating at once and the job sweep finds it after
``CONCORD_TRAINING_STALL_SECONDS``. A progress write that finds the evaluation no longer running
(cancelled, :mod:`.evaluation_cancel`, or failed by the sweep) stops the worker with
:class:`EvaluationCancelled`.
"""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone

from annotation.services.jobs import beat
from training.models import PolicyEvaluation, RunStatus
from training.services.run_heartbeat import Heartbeat

# The background-job kind of an evaluation (registered in training.apps).
EVALUATION_JOB = "evaluation"
# Progress: each side's generation, then the sprint and the automatic first look.
GENERATION_SHARE = 0.45


class EvaluationCancelled(Exception):
    """Raised in a worker whose evaluation stopped running (cancelled, or failed by the sweep)
    while it worked: the worker stops, and records nothing more."""


def beat_evaluation(evaluation_id: int, progress: float | None = None) -> bool:
    """Stamp the heartbeat (and ``progress``, when given) of a running evaluation and its job;
    False when the evaluation is no longer running."""
    values: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if progress is not None:
        values["progress"] = round(min(1.0, progress), 4)
    running = PolicyEvaluation.objects.filter(pk=evaluation_id, status=RunStatus.RUNNING)
    beat(EVALUATION_JOB, evaluation_id)
    return bool(running.update(**values))


def stop_if_cancelled(evaluation_id: int) -> None:
    """Raise :class:`EvaluationCancelled` when the evaluation is no longer running."""
    if not PolicyEvaluation.objects.filter(pk=evaluation_id, status=RunStatus.RUNNING).exists():
        raise EvaluationCancelled(evaluation_id)


def evaluation_heartbeat(evaluation_id: int) -> Heartbeat:
    """The timer that beats evaluation ``evaluation_id`` for the whole of its work (loading a
    large policy sends no progress for minutes); ``start()`` it, then ``stop()`` it."""
    return Heartbeat(lambda: beat_evaluation(evaluation_id), name=f"evaluation-{evaluation_id}")


def progress_writer(
    evaluation_id: int, offset: float, on_progress: Callable[[float], None] | None
) -> Callable[[int, int], None]:
    """``on_batch`` for one side's generation: progress from ``offset`` over that side's share,
    written at most once per ``CONCORD_TRAINING_POLL_SECONDS`` (and for the last batch); a
    write that finds the evaluation no longer running raises :class:`EvaluationCancelled`."""
    last = [float("-inf")]

    def write(done: int, total: int) -> None:
        progress = offset + GENERATION_SHARE * done / max(1, total)
        if on_progress is not None:
            on_progress(progress)
        now = time.monotonic()
        if done < total and now - last[0] < settings.CONCORD_TRAINING_POLL_SECONDS:
            return
        last[0] = now
        if not beat_evaluation(evaluation_id, progress):
            raise EvaluationCancelled(evaluation_id)

    return write
