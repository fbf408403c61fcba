"""Stratified samples of feedback events into a sprint's items, as a background job.

:func:`start_sample` checks the request (the actor leads the sprint and every source drawn
from; every field, :mod:`feedback.services.sample_requests`), stores a queued
:class:`~feedback.models.FeedbackSample` and enqueues its job on commit (the one way to
enqueue, :func:`annotation.services.jobs.enqueue_on_commit`). Nothing is stored on a refusal.

:func:`run_sample` is the worker's part: it draws (:mod:`feedback.services.sample_draws`:
events matching the filters with their text and two or more responses, not yet in the sprint;
ids and strata first, texts only of the events drawn), then writes the items.

Allocation: with ``weights`` the strata are the ones named, their targets split ``n`` by largest
remainder (they sum to ``n``, each within one item of its exact quota); without, ``n`` is split
equally over the strata present among the candidates. A stratum short of its target gives what
it has and its shortfall shows in the report (``target`` beside ``drawn``); the shortfall is not
moved to other strata, so the proportions asked for hold, unless ``strata.redistribute`` is true:
then it is split again over the strata that still have events, by their weights, until ``n`` is
reached or every stratum is spent. Candidates in strata the weights do not name are counted as
``outside_strata``.

Content is drawn once: an event whose prompt and set of response texts equal an item already
drawn is skipped (``duplicate_content``) and added to that item's provenance; content already an
item of the sprint is skipped (``already_in_sprint``). Items are created through annotation's
import service, in one transaction with their :class:`~feedback.models.SampledItem` links and
the sample's result, under the sample's row lock, so a job started twice (a redelivered message,
the sweep after a worker died) creates its items once. Any error fails the sample with the
reason and creates nothing.
"""

import io
import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.models import Item, Sprint, SprintRole, SprintStatus
from annotation.services.access import role_at_least, sprint_role
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from annotation.services.imports.service import import_items
from annotation.services.jobs import beat, enqueue_on_commit
from annotation.services.json_limits import MAX_INTEGER
from feedback.models import FeedbackSample, SampledItem
from feedback.models import SampleStatus as Status
from feedback.services.sample_draws import Draw, draw_sample
from feedback.services.sample_requests import SampleRejected, read_sample_request

logger = logging.getLogger(__name__)

SAMPLE_JOB = "feedback-sample"  # registered in feedback.apps
UNFINISHED = (Status.QUEUED, Status.RUNNING)
SKIP_REASONS = ("single_response", "duplicate_content", "already_in_sprint", "purged")


def sample_sprint(actor: AbstractBaseUser, body: Any) -> Sprint:
    """The sprint ``body["sprint"]`` names, if ``actor`` leads it: 404 when the actor has no
    role in it (or there is no such sprint), 403 when their role is lower, 400 when the field
    is missing or no id (listed with the body's other problems)."""
    value = body.get("sprint") if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        problems = [{"field": "sprint", "message": "Required: the id of a sprint you lead."}]
        try:
            read_sample_request(actor, body)
        except ConcordError as other:
            if other.status == 400:  # the body's other bad fields, listed together
                problems += [p for p in other.problems if p.get("field") != "body"]
        raise SampleRejected(problems)
    # An id beyond what the column holds is no sprint (SQLite could not even bind it).
    sprint = Sprint.objects.filter(pk=value).first() if 0 < value <= MAX_INTEGER else None
    _check_lead(actor, sprint)
    return sprint


def _check_lead(actor: AbstractBaseUser, sprint: Sprint | None) -> None:
    role = sprint_role(actor, sprint) if sprint is not None else None
    if role is None:
        raise ConcordError("No such sprint.", status=404, field="sprint")
    if not role_at_least(role, SprintRole.LEAD):
        raise ConcordError("Only a lead of this sprint may sample into it.", status=403)


def start_sample(
    actor: AbstractBaseUser, sprint: Sprint, body: Any, *, enqueue: bool = True
) -> FeedbackSample:
    """Store a queued sample of feedback events into ``sprint`` and enqueue its job once the
    transaction commits. Refused, with nothing stored: 404/403 unless ``actor`` leads the
    sprint; 400 listing every bad field of ``body`` (see :mod:`.sample_requests`); 403/404 on
    ``filters.source`` for sources the actor does not lead; 409 when the sprint is closed.
    Audited. ``enqueue=False`` stores it for the caller to run with :func:`run_sample` (the
    management command)."""
    _check_lead(actor, sprint)
    request = read_sample_request(actor, body)
    if body.get("sprint", sprint.pk) != sprint.pk:
        raise SampleRejected("Must be the sprint the sample is for.", field="sprint")
    if sprint.status == SprintStatus.CLOSED:
        raise ConcordError(
            f"Sprint {sprint.slug!r} is closed; it takes no new items.", status=409, field="sprint"
        )
    with transaction.atomic():
        sample = FeedbackSample.objects.create(
            sprint=sprint, created_by=actor, filters=request.filters, n=request.n,
            strata=request.strata, seed=request.seed,
        )  # fmt: skip
        record_event(
            actor, "feedback.sample_started", sample, sprint=sprint,
            changes={"filters": request.filters, "n": request.n, "strata": request.strata,
                     "seed": request.seed},
        )  # fmt: skip
        if enqueue:
            enqueue_on_commit(SAMPLE_JOB, sample.pk)
    return sample


def run_sample(
    sample_id: int, *, on_progress: Callable[[int, int], None] | None = None
) -> FeedbackSample | None:
    """Draw sample ``sample_id`` and create its items (see the module docstring). Returns the
    sample, done or failed, or ``None`` when it was already finished or is gone (a duplicate
    message). ``on_progress(drawn, n)`` is called after each batch (a progress bar)."""
    claimed = FeedbackSample.objects.filter(pk=sample_id, status__in=UNFINISHED).update(
        status=Status.RUNNING, progress=0.0, error=""
    )
    if not claimed:
        logger.info("feedback sample %s is finished or gone; nothing to do", sample_id)
        return None
    sample = FeedbackSample.objects.select_related("sprint", "created_by").get(pk=sample_id)
    try:
        draw = draw_sample(sample, _progress_writer(sample, on_progress))
        with transaction.atomic():
            locked = FeedbackSample.objects.select_for_update().get(pk=sample_id)
            if locked.status != Status.RUNNING:
                return None  # another start of the same sample finished it meanwhile
            report = _write_items(sample, draw)
            FeedbackSample.objects.filter(pk=sample_id).update(
                status=Status.DONE, progress=1.0, report=report, finished_at=timezone.now()
            )
    except ConcordError as refused:
        fail_sample(sample_id, refused.detail)
    except Exception as exc:
        # Whatever went wrong, the sample must not stay "running": it fails with the reason.
        logger.exception("feedback sample %s failed", sample_id)
        fail_sample(sample_id, f"{type(exc).__name__}: {exc}")
    return FeedbackSample.objects.get(pk=sample_id)


def fail_sample(sample_id: int, reason: str) -> bool:
    """Fail an unfinished sample with ``reason``; False if it had finished."""
    return bool(
        FeedbackSample.objects.filter(pk=sample_id, status__in=UNFINISHED).update(
            status=Status.FAILED, error=reason[:2000], finished_at=timezone.now()
        )
    )


def _write_items(sample: FeedbackSample, draw: Draw) -> dict[str, Any]:
    """Create the drawn items through the import service and link them to their events; the
    report. Call inside a transaction."""
    strata_field = sample.strata.get("field", "stratum")
    # Under the sprint's lock (the import takes the same one), so content another sample or
    # import made an item since the draw read the sprint is dropped, not refused by the import.
    Sprint.objects.select_for_update(no_key=True).get(pk=sample.sprint_id)
    made_meanwhile = set(
        Item.objects.filter(
            sprint_id=sample.sprint_id, external_id__in=[c.external_id for c, _ in draw.chosen]
        ).values_list("external_id", flat=True)
    )
    for content, stratum in draw.chosen:
        if content.external_id in made_meanwhile:
            draw.per_stratum[stratum]["drawn"] -= 1
            draw.skipped["already_in_sprint"] += 1
    draw.chosen = [(c, s) for c, s in draw.chosen if c.external_id not in made_meanwhile]
    lines = [content.import_line(sample.pk, strata_field, s) for content, s in draw.chosen]
    created = 0
    if lines:
        result = import_items(
            sample.sprint,
            io.BytesIO(b"".join(lines)),
            filename=f"feedback-sample-{sample.pk}.jsonl",
            file_format="jsonl",
            actor=sample.created_by,
        )
        created = result.created
        external_ids = [content.external_id for content, _ in draw.chosen]
        item_ids = dict(
            Item.objects.filter(sprint_id=sample.sprint_id, external_id__in=external_ids)
            .values_list("external_id", "pk")
        )  # fmt: skip
        SampledItem.objects.bulk_create(
            [
                SampledItem(event=event, item_id=item_ids[content.external_id], sample=sample)
                for content, _ in draw.chosen
                for event in content.events
            ],
            ignore_conflicts=True,
        )
    report = {
        "requested": sample.n,
        "drawn": len(draw.chosen),
        "items_created": created,
        "field": strata_field,
        "allocation": "weights" if sample.strata.get("weights") else "equal",
        "redistribute": bool(sample.strata.get("redistribute")),
        "seed": sample.seed,
        "per_stratum": draw.per_stratum,
        "skipped": {reason: draw.skipped[reason] for reason in SKIP_REASONS}
        | ({"unimportable": draw.skipped["unimportable"]} if draw.skipped["unimportable"] else {}),
        "outside_strata": draw.outside_strata,
    }
    record_event(
        sample.created_by, "feedback.sample_drawn", sample, sprint=sample.sprint,
        changes={"drawn": report["drawn"], "items_created": created},
    )  # fmt: skip
    return report


def _progress_writer(
    sample: FeedbackSample, on_progress: Callable[[int, int], None] | None
) -> Callable[[int], None]:
    """Writes the sample's progress (drawing is 90 % of it; the import the rest) and beats its
    job's heartbeat after each batch."""

    def write(drawn: int) -> None:
        if on_progress is not None:
            on_progress(drawn, sample.n)
        FeedbackSample.objects.filter(pk=sample.pk, status=Status.RUNNING).update(
            progress=round(0.9 * min(drawn / sample.n, 1.0), 4)
        )
        beat(SAMPLE_JOB, sample.pk)

    return write


def sample_body(sample: FeedbackSample) -> dict[str, Any]:
    """What the API shows of a sample."""
    return {
        "id": sample.pk,
        "sprint": sample.sprint_id,
        "status": sample.status,
        "progress": round(sample.progress, 4),
        "report": sample.report or None,
        "error": sample.error,
        "filters": sample.filters,
        "n": sample.n,
        "strata": sample.strata,
        "seed": sample.seed,
        "created_at": sample.created_at,
        "finished_at": sample.finished_at,
    }
