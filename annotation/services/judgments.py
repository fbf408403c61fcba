"""Submitting, revising and skipping: the single doors for an annotator's answers.

Judgments are append-only. A submit on a leased assignment creates the annotator's judgment of
the item; a submit on an assignment already submitted is a revision, a new row that supersedes
the live one. A client's ``Idempotency-Key`` makes a retried submit harmless: the same key with
the same body returns the judgment already stored and writes nothing; the same key with another
body is refused, since the client is confused about what it sent.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.models import Assignment, Judgment, Response, SprintStatus
from annotation.models.judgments import AssignmentStatus
from annotation.services import labeling_sql
from annotation.services.agreement_codes import encode as agreement_record
from annotation.services.answers import validate_answers
from annotation.services.assignments import members_assignments
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from annotation.services.json_limits import text_field_problem, value_problem
from annotation.services.labeling_rubrics import labeling_rubric
from annotation.services.queue import reopen_item

MAX_SECONDS = 24 * 3600


class JudgmentRejected(ConcordError):
    """The submit, skip or flag cannot be stored; ``problems`` say why, ``status`` is the
    HTTP status. Nothing was stored."""


@dataclass(frozen=True)
class SubmitOutcome:
    judgment: Judgment
    created: bool


def _request_digest(assignment_id: int, answers: Any, seconds: Any) -> str:
    body = {"assignment": assignment_id, "answers": answers, "seconds": seconds}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def submit_judgment(
    annotator: AbstractBaseUser,
    assignment_id: int,
    answers: Any,
    *,
    seconds: float | None,
    idempotency_key: str,
    now: datetime | None = None,
) -> SubmitOutcome:
    """Store the annotator's answers for an assignment of theirs.

    Guarantees: validated against the rubric version of the assignment's sprint before anything
    is written; the assignment row is locked, so two submits for one assignment are serialised
    (the second becomes a revision, or is recognised by its key); a retried key stores nothing
    and is answered with the stored judgment, whatever happened since (lease expired, sprint
    closed). Raises :class:`JudgmentRejected` (404 for someone else's assignment, or one of a
    sprint the annotator is no longer a member of; 409 for a reused key with another body; 400
    for everything else) and stores nothing then.

    The happy path makes no lookup for a replay before storing: the unique (annotator,
    idempotency key) constraint refuses the INSERT of a replay, the transaction rolls back,
    and only then, as after any refusal, is the key looked up.
    """
    now = now or timezone.now()
    key = (idempotency_key or "").strip()
    if not key or len(key) > 200:
        raise JudgmentRejected(
            [{"field": "Idempotency-Key", "message": "header of 1-200 characters is required"}]
        )
    # Before the digest: orjson cannot write a body too deep or with too big a number.
    unstorable = value_problem(answers, "answers", depth=1)
    if unstorable:
        raise JudgmentRejected([unstorable])
    digest = _request_digest(assignment_id, answers, seconds)
    try:
        _check_seconds(seconds)
        judgment = _store(annotator, assignment_id, answers, seconds, key, digest, now)
    except (JudgmentRejected, IntegrityError):
        replay = _replayed(annotator, key, digest)
        if replay is None:
            raise
        return SubmitOutcome(replay, created=False)
    return SubmitOutcome(judgment, created=True)


def _check_seconds(seconds: Any) -> None:
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= MAX_SECONDS
    ):
        raise JudgmentRejected(
            [{"field": "seconds", "message": f"must be a number from 0 to {MAX_SECONDS}"}]
        )


def _store(
    annotator: AbstractBaseUser,
    assignment_id: int,
    answers: Any,
    seconds: float | None,
    key: str,
    digest: str,
    now: datetime,
) -> Judgment:
    with transaction.atomic():
        assignment = _lock_assignment(annotator, assignment_id)
        if assignment is None:
            raise JudgmentRejected(
                [{"field": "assignment", "message": "no such assignment of yours"}], 404
            )
        sprint = assignment.sprint
        if sprint.status != SprintStatus.ACTIVE:
            raise JudgmentRejected(
                [{"field": "assignment", "message": f"the sprint is {sprint.status}"}]
            )
        live = None
        if assignment.status == AssignmentStatus.SUBMITTED:
            live = Judgment.objects.filter(assignment=assignment, superseded_by__isnull=True).get()
        elif assignment.status != AssignmentStatus.LEASED or assignment.lease_expires_at <= now:
            raise JudgmentRejected(
                [
                    {
                        "field": "assignment",
                        "message": "the lease on this item expired; ask for the next item",
                    }
                ]
            )
        rubric = labeling_rubric(sprint.rubric)
        keys = getattr(assignment, "response_keys", None)
        if keys is None:
            keys = list(
                Response.objects.filter(item_id=assignment.item_id)
                .order_by("position")
                .values_list("key", flat=True)
            )
        clean, problems = validate_answers(list(rubric.criteria), keys, answers)
        if problems:
            raise JudgmentRejected(problems)
        judgment = Judgment.objects.create(
            sprint=sprint,
            item_id=assignment.item_id,
            assignment=assignment,
            annotator=annotator,
            rubric_id=rubric.id,
            answers=clean,
            seconds=seconds,
            idempotency_key=key,
            request_sha256=digest,
            supersedes=live,
            # Coded for the agreement report in the same INSERT (the row is never updated).
            agreement_codes=agreement_record(
                rubric.criteria,
                keys,
                clean,
                item_id=assignment.item_id,
                annotator_id=annotator.pk,
                seconds=seconds,
            ),
        )
        if live is None:
            Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.SUBMITTED)
            assignment.status = AssignmentStatus.SUBMITTED
        else:
            record_event(
                annotator,
                "judgment.revised",
                judgment,
                sprint=sprint,
                changes={"supersedes": live.pk},
            )
    return judgment


def _lock_assignment(annotator: AbstractBaseUser, assignment_id: int) -> Assignment | None:
    """The caller's assignment, locked, with its sprint and rubric, in one statement; on
    PostgreSQL with the keys of its item's responses too (``response_keys``). ``None`` when it
    is not theirs or they are no longer a member of its sprint."""
    if connection.vendor == "postgresql":
        return labeling_sql.lock_assignment(assignment_id, annotator.pk)
    return (
        # Lock the assignment row only: a bare FOR UPDATE with select_related would also lock
        # the sprint and rubric rows, and every submit in the sprint would queue on them.
        members_assignments(annotator)
        .select_for_update(of=("self",))
        .select_related("sprint__rubric")
        .filter(pk=assignment_id)
        .order_by("pk")
        .first()
    )


def _replayed(annotator: AbstractBaseUser, key: str, digest: str) -> Judgment | None:
    earlier = Judgment.objects.filter(annotator=annotator, idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.request_sha256 != digest:
        raise JudgmentRejected(
            [
                {
                    "field": "Idempotency-Key",
                    "message": "this key was already used for a different submit",
                }
            ],
            409,
        )
    return earlier


def skip_assignment(annotator: AbstractBaseUser, assignment_id: int, reason: str) -> Assignment:
    """Give a leased item back with a reason. The annotator is never offered it again (their
    assignment row stays, status ``skipped``); its slot goes back to the pool for others.

    Raises :class:`JudgmentRejected` and changes nothing: 404 for someone else's assignment or
    one of a sprint the annotator is no longer a member of, 400 for a missing or bad reason or
    an assignment that is not leased. Locks the assignment row only."""
    reason = (reason or "").strip()
    if not reason:
        raise JudgmentRejected([{"field": "reason", "message": "say why you skip this item"}])
    if len(reason) > 500:
        raise JudgmentRejected([{"field": "reason", "message": "is longer than 500 characters"}])
    unstorable = text_field_problem(reason, "reason")
    if unstorable:
        raise JudgmentRejected([unstorable])
    with transaction.atomic():
        assignment = (
            members_assignments(annotator)
            .select_for_update(of=("self",))
            .filter(pk=assignment_id)
            .order_by("pk")
            .first()
        )
        if assignment is None:
            raise JudgmentRejected(
                [{"field": "assignment", "message": "no such assignment of yours"}], 404
            )
        if assignment.status != AssignmentStatus.LEASED:
            raise JudgmentRejected(
                [{"field": "assignment", "message": f"this assignment is {assignment.status}"}]
            )
        assignment.status = AssignmentStatus.SKIPPED
        assignment.skip_reason = reason
        assignment.save(update_fields=["status", "skip_reason"])
        reopen_item(assignment.item_id)
    return assignment
