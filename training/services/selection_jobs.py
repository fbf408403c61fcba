"""Active selection as a background job: the API and the admin ask for a selection, a worker
scores the pool and builds the next sprint (:mod:`training.services.selection`).

``start_selection`` checks the request (the actor leads the source sprint, the model is in
production, the parameters and the slug are good, the pool is not empty), stores a queued
:class:`~training.models.SelectionRun` and enqueues its job on commit
(:func:`annotation.services.jobs.enqueue_on_commit`: a broker that is down never fails the
caller, the beat sweep publishes it again). ``execute_selection`` is the worker's part: it
writes ``scored``/``total`` and beats the job's heartbeat at most once per
``CONCORD_TRAINING_POLL_SECONDS`` while it scores, then writes the sprint and the result in
one transaction that first locks the selection row, so a selection started again by the sweep
(its worker died) or delivered twice creates its sprint at most once. A refusal found by the
worker (the slug was taken meanwhile, the model left production) fails the selection with the
reason, as does any other error.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.models import Sprint, SprintRole
from annotation.services.access import has_sprint_role
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from annotation.services.jobs import beat, enqueue_on_commit
from training.models import ModelStage, ModelVersion, RunStatus, SelectionRun
from training.services.registry import models_led_by
from training.services.scoring import NotInProduction
from training.services.selection import (
    SelectionRejected,
    check_request,
    create_next_sprint,
    next_slug,
    score_pool,
)

logger = logging.getLogger(__name__)

# The background-job kind of a selection (registered in training.apps).
SELECTION_JOB = "selection"
UNFINISHED = (RunStatus.QUEUED, RunStatus.RUNNING)


class SelectionForbidden(ConcordError):
    """The actor does not lead the sprint selected from."""

    status = 403


def check_lead(actor: AbstractBaseUser | None, source: Sprint) -> None:
    """Raise :class:`SelectionForbidden` unless ``actor`` leads ``source`` (``None`` is the
    operator: a management command)."""
    if actor is not None and not has_sprint_role(actor, source, SprintRole.LEAD):
        raise SelectionForbidden("Only a lead of this sprint may select from it.")


def start_selection(
    source: Sprint,
    model: ModelVersion,
    *,
    actor: AbstractBaseUser | None,
    size: int,
    random_share: float = 0.2,
    seed: int = 0,
    name: str = "",
    slug: str = "",
    enqueue: bool = True,
) -> SelectionRun:
    """Store a queued selection and enqueue its job once the transaction commits. Nothing is
    stored when the actor does not lead ``source`` (:class:`SelectionForbidden`) or may not
    use ``model`` (one of another team's: :class:`SelectionRejected` on ``model``), the model is
    not in production (``NotInProduction``) or a parameter, the slug or the pool is refused
    (:class:`SelectionRejected`). The slug is fixed now (``<source>-next-<n>`` when empty), so a
    second selection asked before this one finishes gets another. ``enqueue=False`` stores it
    for the caller to run with :func:`execute_selection`."""
    check_lead(actor, source)
    if actor is not None and not models_led_by(actor).filter(pk=model.pk).exists():
        raise SelectionRejected(
            [{"field": "model", "message": "No model version with this id that you lead."}]
        )
    if model.stage != ModelStage.PRODUCTION:
        raise NotInProduction(
            f"{model.name} v{model.version} is {model.stage}; only a production model scores."
        )
    reserved = frozenset(
        SelectionRun.objects.filter(status__in=UNFINISHED).values_list("params__slug", flat=True)
    )
    if slug and slug in reserved:
        raise SelectionRejected(
            [{"field": "slug", "message": f"A selection in progress will create {slug!r}."}]
        )
    slug = slug or next_slug(source, reserved)
    check_request(source, size, random_share, slug)
    params = {"size": size, "random_share": random_share, "seed": seed, "name": name, "slug": slug}
    with transaction.atomic():
        selection = SelectionRun.objects.create(
            source=source,
            model=model,
            params=params,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        record_event(
            actor,
            "sprint.selection_started",
            selection,
            sprint=source,
            changes={"model": model.pk, **params},
        )
        if enqueue:
            enqueue_on_commit(SELECTION_JOB, selection.pk)
    return selection


@dataclass
class ProgressWriter:
    """Writes ``scored``/``total`` and beats the job at most once per ``interval`` seconds (and
    always for the last item); also passes each step to ``on_progress`` (a progress bar)."""

    selection_id: int
    interval: float
    on_progress: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        self._last_write = float("-inf")

    def __call__(self, scored: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(scored, total)
        now = time.monotonic()
        if scored < total and now - self._last_write < self.interval:
            return
        self._last_write = now
        SelectionRun.objects.filter(pk=self.selection_id, status=RunStatus.RUNNING).update(
            scored=scored, total=total
        )
        beat(SELECTION_JOB, self.selection_id)


def execute_selection(
    selection_id: int, *, on_progress: Callable[[int, int], None] | None = None
) -> SelectionRun | None:
    """Score the pool of selection ``selection_id`` and build its sprint; see the module
    docstring. Returns the selection (done or failed), or ``None`` when it was already
    finished or is gone (a duplicate message)."""
    claimed = SelectionRun.objects.filter(pk=selection_id, status__in=UNFINISHED).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), scored=0, error=""
    )
    if not claimed:
        logger.info("selection %s is finished or gone; nothing to do", selection_id)
        return None
    selection = SelectionRun.objects.select_related("source__rubric", "model", "created_by").get(
        pk=selection_id
    )
    params = selection.params
    try:
        check_request(selection.source, params["size"], params["random_share"], params["slug"])
        uncertain, randomly = score_pool(
            selection.source,
            selection.model,
            size=params["size"],
            random_share=params["random_share"],
            seed=params["seed"],
            on_progress=ProgressWriter(selection_id, _poll_seconds(), on_progress),
        )
        with transaction.atomic():
            locked = SelectionRun.objects.select_for_update().get(pk=selection_id)
            if locked.status != RunStatus.RUNNING:
                return None  # another start of the same selection finished it meanwhile
            made = create_next_sprint(
                selection.source, selection.model, uncertain, randomly,
                actor=selection.created_by, **params,
            )  # fmt: skip
            result = {
                "sprint": made.sprint.pk,
                "slug": made.sprint.slug,
                "model": selection.model_id,
                "uncertain": [scored.item.pk for scored in made.uncertain],
                "random": [scored.item.pk for scored in made.random],
                "gold_copied": made.gold_copied,
            }
            SelectionRun.objects.filter(pk=selection_id).update(
                status=RunStatus.DONE, result=result, finished_at=timezone.now()
            )
    except ConcordError as refused:
        fail_selection(selection_id, refused.detail)
    except Exception as exc:
        # Whatever went wrong, the selection must not stay "running": it fails with the reason.
        logger.exception("selection %s failed", selection_id)
        fail_selection(selection_id, f"{type(exc).__name__}: {exc}")
    return SelectionRun.objects.get(pk=selection_id)


def fail_selection(selection_id: int, reason: str) -> bool:
    """Fail an unfinished selection with ``reason``; False if it had finished."""
    return bool(
        SelectionRun.objects.filter(pk=selection_id, status__in=UNFINISHED).update(
            status=RunStatus.FAILED, error=reason[:2000], finished_at=timezone.now()
        )
    )


def selection_body(selection: SelectionRun) -> dict[str, Any]:
    """What the API and the admin show of a selection."""
    return {
        "id": selection.pk,
        "source": selection.source_id,
        "model": selection.model_id,
        "status": selection.status,
        "scored": selection.scored,
        "total": selection.total,
        "progress": round(selection.progress, 4),
        "params": selection.params,
        "result": selection.result,
        "error": selection.error,
        "created_at": selection.created_at,
        "started_at": selection.started_at,
        "finished_at": selection.finished_at,
    }


def _poll_seconds() -> float:
    return float(settings.CONCORD_TRAINING_POLL_SECONDS)
