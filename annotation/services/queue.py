"""The assignment queue: which item an annotator gets next.

Rules (PRODUCT.md): no item is handed to more than ``k`` annotators at once, nor twice to the
same annotator; an expired lease returns the item to the pool; gold items are mixed in at the
sprint's gold rate and look like any other; an item an annotator skipped is never offered to
them again (their assignment row stays, status ``skipped``).

How it stays fast and correct on a million items under many annotators:

- Regular items are walked in id order through a partial index that holds only items that
  are not full, starting after the member's ``queue_cursor``; only when that finds nothing does
  a second pass look behind the cursor, for items whose leases expired since.
- A candidate row is taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two annotators
  never wait on, or both take, the last slot of one item; under that lock its live assignments
  are counted, lapsed leases released, and ``is_full`` set when the k-th slot goes. SQLite
  serialises writers, which gives the same guarantees there.
- The member row is locked first, so one annotator's double-click cannot lease two items.
- Gold items are not limited by k (every annotator should meet them, to measure accuracy); each
  annotator meets each gold item at most once.
"""

import random
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from annotation.models import Assignment, Item, Sprint, SprintMember, SprintStatus
from annotation.models.judgments import AssignmentStatus


class QueueClosed(Exception):
    """The sprint does not hand out work to this caller (draft or closed)."""


class NotAMember(QueueClosed):
    """The caller has no membership row in the sprint (a superuser acting as lead): labeling
    needs one, since assignments and pseudonyms hang off it."""


LIVE = Q(status=AssignmentStatus.SUBMITTED) | Q(status=AssignmentStatus.LEASED)


def next_assignment(
    sprint: Sprint,
    annotator: AbstractBaseUser,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Assignment | None:
    """The annotator's current lease in ``sprint``, or a new one; ``None`` when their queue is
    empty. Idempotent while a lease is live: asking again returns the same assignment."""
    now = now or timezone.now()
    rng = rng or random.Random()  # sampling, not security
    if sprint.status != SprintStatus.ACTIVE:
        raise QueueClosed(f"sprint {sprint.slug!r} is {sprint.status}, not active")
    with transaction.atomic():
        member = (
            SprintMember.objects.select_for_update().filter(sprint=sprint, user=annotator).first()
        )
        if member is None:
            raise NotAMember(f"you are not a member of sprint {sprint.slug!r}; a lead can add you")
        current = (
            Assignment.objects.filter(
                sprint=sprint,
                annotator=annotator,
                status=AssignmentStatus.LEASED,
                lease_expires_at__gt=now,
            )
            .order_by("leased_at")
            .first()
        )
        if current is not None:
            return current
        lease = timedelta(minutes=sprint.lease_minutes)
        if sprint.gold_rate > 0 and rng.random() < sprint.gold_rate:
            gold = _take_gold(sprint, member, now, lease, rng)
            if gold is not None:
                return gold
        return _take_regular(sprint, member, now, lease)


def _candidates(sprint: Sprint, annotator_id: int, *, gold: bool):
    # NOT EXISTS probes the (item, annotator) unique index once per candidate; NOT IN would read
    # all of the annotator's assignments on every request, which grows with their history.
    mine = Assignment.objects.filter(item_id=OuterRef("pk"), annotator_id=annotator_id)
    return Item.objects.filter(sprint=sprint, is_gold=gold).exclude(Exists(mine))


def _lock_first(queryset) -> Item | None:
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset.only("id", "sprint_id", "is_full").first()


def _take_regular(
    sprint: Sprint, member: SprintMember, now: datetime, lease: timedelta
) -> Assignment | None:
    base = _candidates(sprint, member.user_id, gold=False).filter(is_full=False).order_by("id")
    for behind in (False, True):
        after = 0 if behind else member.queue_cursor
        while True:
            item = _lock_first(base.filter(id__gt=after))
            if item is None:
                break
            after = item.id
            live = _live_assignments(item, now)
            if live >= sprint.overlap_k:
                Item.objects.filter(pk=item.pk).update(is_full=True)
                continue
            assignment = _lease(sprint, item, member, now, lease)
            if live + 1 >= sprint.overlap_k:
                Item.objects.filter(pk=item.pk).update(is_full=True)
            if not behind:
                member.queue_cursor = item.id
                member.save(update_fields=["queue_cursor"])
            return assignment
    return None


def _take_gold(
    sprint: Sprint, member: SprintMember, now: datetime, lease: timedelta, rng: random.Random
) -> Assignment | None:
    """A gold item this annotator has not met, from a random point of the gold ids (wrapping
    round), so that annotators meet gold in different orders."""
    candidates = _candidates(sprint, member.user_id, gold=True).order_by("id")
    bounds = Item.objects.filter(sprint=sprint, is_gold=True).order_by("id")
    first = bounds.values_list("id", flat=True).first()
    last = bounds.reverse().values_list("id", flat=True).first()
    if first is None or last is None:
        return None
    start = rng.randint(first, last)
    item = _lock_first(candidates.filter(id__gte=start)) or _lock_first(
        candidates.filter(id__lt=start)
    )
    if item is None:
        return None
    return _lease(sprint, item, member, now, lease)


def _live_assignments(item: Item, now: datetime) -> int:
    """Live assignments of a locked item, releasing any whose lease lapsed: the release task
    does the same every minute, but the queue must not wait for it to be right."""
    Assignment.objects.filter(
        item=item, status=AssignmentStatus.LEASED, lease_expires_at__lte=now
    ).update(status=AssignmentStatus.RELEASED)
    return Assignment.objects.filter(LIVE, item=item).count()


def _lease(
    sprint: Sprint, item: Item, member: SprintMember, now: datetime, lease: timedelta
) -> Assignment:
    return Assignment.objects.create(
        sprint=sprint,
        item=item,
        annotator_id=member.user_id,
        status=AssignmentStatus.LEASED,
        leased_at=now,
        lease_expires_at=now + lease,
    )


def reopen_item(item_id: int) -> None:
    """Let the queue offer an item again after one of its slots was given back (a skip, a
    released lease). Cheap and safe to call when in doubt: the queue recounts under lock."""
    Item.objects.filter(pk=item_id, is_full=True).update(is_full=False)
