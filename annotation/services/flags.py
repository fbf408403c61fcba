"""Flagging an item: an annotator's report that an item is broken, unsafe or unanswerable.

A flag is kept apart from judgments (:class:`annotation.models.ItemFlag`): it neither answers
the item nor ends the assignment, so the annotator goes on to answer or skip it as usual. One
flag per annotator and item; flagging again returns the flag already stored and changes
nothing. Reviewers act on flags (the reviews app subscribes to them).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.models import Assignment, ItemFlag, SprintStatus
from annotation.models.judgments import AssignmentStatus
from annotation.services.assignments import members_assignments
from annotation.services.audit import record_event
from annotation.services.json_limits import text_field_problem
from annotation.services.judgments import JudgmentRejected

MAX_REASON = 500


@dataclass(frozen=True)
class FlagOutcome:
    flag: ItemFlag
    created: bool


def flag_item(
    annotator: AbstractBaseUser, assignment_id: int, reason: Any, *, now: datetime | None = None
) -> FlagOutcome:
    """Flag the item of one of the annotator's assignments, with a reason.

    Guarantees: only an assignment of the caller's that is leased (and not expired) or
    submitted, in an active sprint, can be flagged; someone else's assignment is 404, as if it
    did not exist, and so is one of a sprint the annotator is no longer a member of.
    Idempotent per (annotator, item): a second flag, even with another reason, after the
    assignment was skipped, or from a race of two requests, returns the first and stores
    nothing. The flag and its audit event are written in one transaction. Raises
    :class:`JudgmentRejected` (400 or 404) and stores nothing then.
    """
    now = now or timezone.now()
    if reason is not None and not isinstance(reason, str):
        raise JudgmentRejected([{"field": "reason", "message": "must be text"}])
    reason = (reason or "").strip()
    if not reason:
        raise JudgmentRejected([{"field": "reason", "message": "say what is wrong with the item"}])
    if len(reason) > MAX_REASON:
        raise JudgmentRejected(
            [{"field": "reason", "message": f"is longer than {MAX_REASON} characters"}]
        )
    unstorable = text_field_problem(reason, "reason")
    if unstorable:
        raise JudgmentRejected([unstorable])
    with transaction.atomic():
        assignment = (
            members_assignments(annotator)
            .select_related("sprint")
            .filter(pk=assignment_id)
            .order_by("pk")
            .first()
        )
        if assignment is None:
            raise JudgmentRejected(
                [{"field": "assignment", "message": "no such assignment of yours"}], 404
            )
        earlier = (
            ItemFlag.objects.filter(item_id=assignment.item_id, annotator=annotator)
            .order_by("pk")
            .first()
        )
        if earlier is not None:
            # Checked before the assignment's state: a retry after a lost answer, once the
            # item was skipped or its lease ran out, still gets its flag back.
            return FlagOutcome(earlier, created=False)
        _check_flaggable(assignment, now)
        flag, created = ItemFlag.objects.get_or_create(
            item_id=assignment.item_id,
            annotator=annotator,
            defaults={"sprint_id": assignment.sprint_id, "reason": reason},
        )
        if created:
            record_event(
                annotator,
                "item.flagged",
                flag,
                sprint=assignment.sprint,
                changes={"assignment": assignment.pk, "reason": reason},
            )
    return FlagOutcome(flag, created)


def _check_flaggable(assignment: Assignment, now: datetime) -> None:
    if assignment.sprint.status != SprintStatus.ACTIVE:
        raise JudgmentRejected(
            [{"field": "assignment", "message": f"the sprint is {assignment.sprint.status}"}]
        )
    held = assignment.status == AssignmentStatus.LEASED and assignment.lease_expires_at > now
    if not held and assignment.status != AssignmentStatus.SUBMITTED:
        state = "expired" if assignment.status == AssignmentStatus.LEASED else assignment.status
        raise JudgmentRejected(
            [
                {
                    "field": "assignment",
                    "message": f"this assignment is {state}; flag an item you hold or judged",
                }
            ]
        )
