"""Helpers for the consensus and dispute tests: judgments stored as submit_judgment stores
them, and simulated annotators of known accuracy written in bulk."""

import uuid
from datetime import timedelta

import numpy as np
from django.utils import timezone

from annotation.models import (
    Assignment,
    GoldAnswer,
    Item,
    Judgment,
    Response,
    SprintMember,
    SprintRole,
)
from annotation.models.judgments import AssignmentStatus


def answers_for(ranking=None, *, tie=False, strength=None, helpfulness=None, extra=None) -> dict:
    preference = {"tie": True} if tie else {"ranking": list(ranking)}
    if strength is not None:
        preference["strength"] = strength
    answers = {"preference": preference}
    if helpfulness is not None:
        answers["helpfulness"] = helpfulness
    answers.update(extra or {})
    return answers


def vote(item, user, ranking=None, **kwargs) -> Judgment:
    """A submitted assignment and its live judgment (a revision when the user judged the item
    already), stored directly."""
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
    live = Judgment.objects.filter(item=item, annotator=user, superseded_by__isnull=True).first()
    return Judgment.objects.create(
        sprint=item.sprint,
        item=item,
        assignment=assignment,
        annotator=user,
        rubric=item.sprint.rubric,
        answers=answers_for(ranking, **kwargs),
        seconds=12.0,
        idempotency_key=uuid.uuid4().hex,
        supersedes=live,
    )


def people(sprint, make_user, names, role=SprintRole.ANNOTATOR) -> list:
    users = []
    for name in names:
        user = make_user(f"{sprint.slug}-{name}")
        SprintMember.objects.create(sprint=sprint, user=user, role=role)
        users.append(user)
    return users


def make_items(sprint, count: int, keys: str = "ab", *, prefix: str = "s") -> list[Item]:
    items = Item.objects.bulk_create(
        Item(
            sprint=sprint,
            external_id=f"{prefix}-{n}",
            prompt=f"Question {n}?",
            content_sha256=f"{prefix}{n:063d}"[:64],
        )
        for n in range(count)
    )
    Response.objects.bulk_create(
        Response(item=item, key=key, text=f"answer {key} of {item.external_id}", position=p)
        for item in items
        for p, key in enumerate(keys)
    )
    return items


def make_gold(item, ranking) -> GoldAnswer:
    Item.objects.filter(pk=item.pk).update(is_gold=True)
    item.is_gold = True
    return GoldAnswer.objects.create(item=item, answers={"ranking": list(ranking)})


def bulk_votes(items, users, rankings) -> None:
    """``rankings[i][u]`` is user ``u``'s ranking of item ``i``; stored with bulk_create (no
    signal, as a bulk load would)."""
    now = timezone.now()
    assignments = Assignment.objects.bulk_create(
        Assignment(
            sprint=item.sprint,
            item=item,
            annotator=user,
            status=AssignmentStatus.SUBMITTED,
            leased_at=now,
            lease_expires_at=now + timedelta(minutes=30),
        )
        for item in items
        for user in users
    )
    by_pair = {(a.item_id, a.annotator_id): a for a in assignments}
    Judgment.objects.bulk_create(
        Judgment(
            sprint=item.sprint,
            item=item,
            assignment=by_pair[(item.pk, user.pk)],
            annotator=user,
            rubric=item.sprint.rubric,
            answers=answers_for(rankings[i][u]),
            idempotency_key=f"bulk-{item.pk}-{user.pk}",
        )
        for i, item in enumerate(items)
        for u, user in enumerate(users)
    )


def simulated_pair_votes(truth: np.ndarray, accuracies, seed: int) -> list[list[list[str]]]:
    """Annotators who prefer the true better response (``truth[i]``: 0 means ``a``) with the
    given accuracies; an accuracy under one half is an annotator who mostly answers the
    opposite."""
    rng = np.random.default_rng(seed)
    out = []
    for better in truth:
        row = []
        for accuracy in accuracies:
            right = rng.random() < accuracy
            first = better if right else 1 - better
            row.append(["a", "b"] if first == 0 else ["b", "a"])
        out.append(row)
    return out
