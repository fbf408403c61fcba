"""Sprints with stored judgments for the agreement tests: Krippendorff's worked example laid out
as Likert scores of (item, response) units, and small helpers to store judgments directly."""

import math
from datetime import timedelta

from django.utils import timezone

from annotation.models import (
    Assignment,
    Criterion,
    CriterionKind,
    Judgment,
    Rubric,
    Sprint,
    SprintMember,
    SprintRole,
)
from annotation.models.judgments import AssignmentStatus
from annotation.services.agreement_codes import encode
from tests.annotation.labeling_fixtures import add_items

NAN = math.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 coders x 12
# units, values 1..5, "." missing. His results: nominal 0.743, ordinal 0.815, interval 0.849.
WORKED_EXAMPLE = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    "C": [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
}
WORKED_LEVELS = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}


def store_judgment(item, user, answers: dict, *, seconds: float | None = 10.0) -> Judgment:
    """A submitted assignment and its judgment, stored as submit_judgment stores them."""
    now = timezone.now()
    assignment, _ = Assignment.objects.get_or_create(
        item=item,
        annotator=user,
        defaults={
            "sprint": item.sprint,
            "status": AssignmentStatus.SUBMITTED,
            "leased_at": now,
            "lease_expires_at": now + timedelta(minutes=30),
        },
    )
    previous = (
        Judgment.objects.filter(item=item, annotator=user, superseded_by__isnull=True)
        .order_by("-created_at")
        .first()
    )
    return Judgment.objects.create(
        sprint=item.sprint,
        item=item,
        assignment=assignment,
        annotator=user,
        rubric=item.sprint.rubric,
        answers=answers,
        seconds=seconds,
        idempotency_key=f"{item.pk}-{user.pk}-{Judgment.objects.count()}",
        supersedes=previous,
        agreement_codes=agreement_record(item, user, answers, seconds),
    )


def agreement_record(item, user, answers: dict, seconds: float | None) -> bytes | None:
    """The agreement record submit_judgment stores with these answers."""
    keys = list(item.responses.order_by("position").values_list("key", flat=True))
    criteria = list(Criterion.objects.filter(rubric_id=item.sprint.rubric_id))
    return encode(criteria, keys, answers, item_id=item.pk, annotator_id=user.pk, seconds=seconds)


def skip_item(item, user) -> Assignment:
    now = timezone.now()
    return Assignment.objects.create(
        sprint=item.sprint,
        item=item,
        annotator=user,
        status=AssignmentStatus.SKIPPED,
        leased_at=now,
        lease_expires_at=now + timedelta(minutes=30),
        skip_reason="cannot tell",
    )


def members(sprint: Sprint, make_user, names, role=SprintRole.ANNOTATOR) -> list:
    users = []
    for name in names:
        user = make_user(f"{sprint.slug}-{name}")
        SprintMember.objects.create(sprint=sprint, user=user, role=role, pseudonym=f"p-{name}")
        users.append(user)
    return users


def worked_example_sprint(make_user) -> tuple[Sprint, list]:
    """The worked example stored as judgments: unit u (0-based) is response ``"ab"[u % 2]`` of
    item ``u // 2``, scored on three Likert criteria whose configs ask for the nominal, ordinal
    and interval level. A coder's missing value is a score left out of the judgment (these rows
    are stored directly: the labeling API would insist on a score for every response)."""
    rubric = Rubric.objects.create(name="Worked example")
    Criterion.objects.create(
        rubric=rubric, name="preference", kind=CriterionKind.PREFERENCE, question="Better?"
    )
    for position, level in enumerate(WORKED_LEVELS, start=1):
        Criterion.objects.create(
            rubric=rubric,
            name=f"score_{level}",
            kind=CriterionKind.LIKERT,
            question="Score?",
            config={"min": 1, "max": 5, "level": level},
            position=position,
        )
    sprint = Sprint.objects.create(name="Worked", slug="worked", rubric=rubric, status="active")
    items = add_items(sprint, 6, prefix="w")
    coders = members(sprint, make_user, WORKED_EXAMPLE)
    for coder, values in zip(coders, WORKED_EXAMPLE.values(), strict=True):
        for index, item in enumerate(items):
            scores = {
                key: int(values[2 * index + offset])
                for offset, key in enumerate("ab")
                if not math.isnan(values[2 * index + offset])
            }
            if not scores:
                continue
            answers = {"preference": {"ranking": ["a", "b"]}}
            answers.update({f"score_{level}": scores for level in WORKED_LEVELS})
            store_judgment(item, coder, answers)
    return sprint, coders
