"""How a running training run reports: :class:`ProgressWriter` writes the trainer's events to
the run row (and beats its background job), :class:`CancelCheck` reads a cancel request. Both
kinds of run (reward models and DPO policies) use the same two, so the queue, the progress
bar, the charts and cancel behave the same for either."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from annotation.services.jobs import beat
from training.models import RunStatus, TrainingRun

# The background-job kind of a run (registered in training.apps).
TRAINING_JOB = "training"


def poll_seconds() -> float:
    """How often a worker writes progress and reads a cancel request at most."""
    return settings.CONCORD_TRAINING_POLL_SECONDS


@dataclass
class ProgressWriter:
    """Collects the trainer's events and writes them to the run row at most once per
    ``interval`` seconds (and always for an evaluation and the last step). Only a running run
    is written, and only the progress fields: never ``status`` or ``cancel_requested``."""

    run_id: int
    interval: float
    on_event: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        self.train_loss: list[dict[str, float]] = []
        self.evals: list[dict[str, Any]] = []
        self._last_write = float("-inf")

    def __call__(self, event: Any) -> None:
        if event.loss is not None:
            self.train_loss.append({"step": event.step, "loss": float(event.loss)})
        if event.eval is not None:
            self.evals.append(dict(event.eval))
        if self.on_event is not None:
            self.on_event(event)
        now = time.monotonic()
        final = event.total_steps and event.step >= event.total_steps
        if event.eval is None and not final and now - self._last_write < self.interval:
            return
        self._last_write = now
        progress = min(1.0, event.step / event.total_steps) if event.total_steps else 0.0
        TrainingRun.objects.filter(pk=self.run_id, status=RunStatus.RUNNING).update(
            progress=progress,
            current_step=event.step,
            total_steps=event.total_steps,
            metrics={"train_loss": thin(self.train_loss), "eval": self.evals},
            heartbeat_at=timezone.now(),
        )
        beat(TRAINING_JOB, self.run_id)


def thin(points: list[dict[str, float]], limit: int = 1000) -> list[dict[str, float]]:
    """At most about ``limit`` points of a curve, evenly spaced, the last one always kept."""
    if len(points) <= limit:
        return points
    stride = -(-len(points) // limit)
    kept = points[::stride]
    return kept if kept[-1] is points[-1] else [*kept, points[-1]]


@dataclass
class CancelCheck:
    """``should_stop`` for the trainer: reads ``cancel_requested`` from the database at most
    once per ``interval`` seconds, so a check every step costs nothing."""

    run_id: int
    interval: float

    def __post_init__(self) -> None:
        self._last_read = float("-inf")
        self._cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_read >= self.interval:
            self._last_read = now
            self._cancelled = TrainingRun.objects.filter(
                pk=self.run_id, cancel_requested=True
            ).exists()
        return self._cancelled
