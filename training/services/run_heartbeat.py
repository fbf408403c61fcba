"""The heartbeat of a training run while no progress event comes: a run beats with every
progress write, but loading a base model, reading the dataset and saving the artifacts send
none and can take minutes for a large model, longer than ``CONCORD_TRAINING_STALL_SECONDS``.

:class:`RunHeartbeat` is a timer thread that stamps the run's ``heartbeat_at`` and beats its
background job (:func:`annotation.services.jobs.beat`) every quarter of the stall time (at most
every 30 s) during those steps only: it pauses at the first step of each epoch, whose progress
writes beat instead, and resumes after each epoch's last step (the evaluation of the test split
sends no event until it ends) and after the last step. So a worker that was killed
stops beating at once, and one stuck inside the loop is found stalled too.
"""

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotation.services.jobs import beat
from training.models import RunStatus, TrainingRun

logger = logging.getLogger(__name__)

MAX_INTERVAL = 30.0


def beat_run(run_id: int, job_kind: str) -> None:
    """Stamp the heartbeat of a running run and of its running background job."""
    TrainingRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now()
    )
    beat(job_kind, run_id)


class Heartbeat:
    """Calls ``beat`` from a daemon thread every ``interval`` seconds (default: a quarter of
    ``CONCORD_TRAINING_STALL_SECONDS``, at most 30 s) while not paused, between ``start()`` and
    ``stop()`` (call it after the work, whatever happened). A beat that fails is logged and
    tried again at the next tick; the thread closes its own database connection. Training runs
    and policy evaluations both beat this way."""

    def __init__(
        self, beat: Callable[[], None], *, name: str, interval: float | None = None
    ) -> None:
        self._beat, self.name = beat, name
        self.interval = interval or min(MAX_INTERVAL, settings.CONCORD_TRAINING_STALL_SECONDS / 4)
        self._stopped = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{name}", daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        # A beat blocked on a row lock (a test's open transaction) must not hold the work up.
        self._thread.join(timeout=2)

    def _loop(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                if self._paused.is_set():
                    continue
                try:
                    self._beat()
                except Exception:  # a lost beat is retried at the next tick
                    logger.warning("%s: heartbeat not written", self.name, exc_info=True)
        finally:
            connection.close()  # this thread's own connection


class RunHeartbeat(Heartbeat):
    """Beats run ``run_id`` while not paused; see the module docstring."""

    def __init__(self, run_id: int, job_kind: str, interval: float | None = None) -> None:
        self.run_id, self.job_kind = run_id, job_kind
        super().__init__(
            lambda: beat_run(run_id, job_kind), name=f"run-{run_id}", interval=interval
        )

    def watching(
        self, on_event: Callable[[Any], None] | None, *, epochs: int = 1
    ) -> Callable[[Any], None]:
        """A trainer event callback that pauses the timer inside each of the ``epochs`` epochs'
        steps, resumes it after an epoch's last step (the test split's evaluation and the next
        epoch's start send no event for as long as they take) and after the last step, and
        passes every event on to ``on_event``."""

        def watch(event: Any) -> None:
            per_epoch = max(1, event.total_steps // max(1, epochs))
            ends_epoch = (
                getattr(event, "eval", None) is not None
                or event.step % per_epoch == 0
                or event.step >= event.total_steps
            )
            if event.total_steps and ends_epoch:
                self._paused.clear()
            else:
                self._paused.set()
            if on_event is not None:
                on_event(event)

        return watch
