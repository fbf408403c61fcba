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
- Few round trips and little Python: on PostgreSQL a new lease is four statements in one
  transaction, written as SQL in :mod:`annotation.services.labeling_sql` (the member row locked
  and read with its sprint and rubric; the member's live lease looked up; a candidate locked
  and read with what is served of it, responses included; the slot claimed in one statement
  that releases, counts, leases, marks full and moves the cursor). Under load a request's
  time goes to round trips and to composing ORM queries far more than to the index lookups
  themselves. Other databases run the same steps through the ORM.
- Gold items are not limited by k (every annotator should meet them, to measure accuracy); each
  annotator meets each gold item at most once.
"""

import random
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from annotation.models import Assignment, Item, Sprint, SprintMember, SprintStatus
from annotation.models.judgments import AssignmentStatus
from annotation.services import labeling_sql


class QueueClosed(Exception):
    """The sprint does not hand out work to this caller (draft or closed)."""


class NotAMember(QueueClosed):
    """The caller has no membership row in the sprint (a superuser acting as lead): labeling
    needs one, since assignments and pseudonyms hang off it."""


LIVE = Q(status=AssignmentStatus.SUBMITTED) | Q(status=AssignmentStatus.LEASED)


def next_assignment(
    sprint: Sprint | int,
    annotator: AbstractBaseUser,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Assignment | None:
    """The annotator's current lease in ``sprint`` (a Sprint or its id), or a new one; ``None``
    when their queue is empty. Idempotent while a lease is live: asking again returns the same
    assignment. The assignment comes with its ``sprint`` (and that sprint's ``rubric``) loaded,
    and a new lease with the item's served fields, so the caller needs no more queries for them.

    Raises :class:`NotAMember` when the annotator has no membership row in the sprint (or the
    sprint does not exist), :class:`QueueClosed` when the sprint is not active."""
    now = now or timezone.now()
    rng = rng or random.Random()  # sampling, not security
    sprint_id = sprint.pk if isinstance(sprint, Sprint) else sprint
    with transaction.atomic():
        member = _lock_member(sprint_id, annotator)
        if member is None:
            raise NotAMember("you are not a member of this sprint; a lead can add you")
        sprint = member.sprint
        if sprint.status != SprintStatus.ACTIVE:
            raise QueueClosed(f"sprint {sprint.slug!r} is {sprint.status}, not active")
        # Read in a statement of its own, after the lock: under READ COMMITTED a statement sees
        # what was committed when it started, so a lookup inside the locking statement would
        # miss the lease that the request we waited for (a double click) has just made.
        current = _live_lease(sprint, annotator, now)
        if current is not None:
            current.sprint = sprint
            return current
        lease = timedelta(minutes=sprint.lease_minutes)
        if sprint.gold_rate > 0 and rng.random() < sprint.gold_rate:
            gold = _take_gold(sprint, member, now, lease, rng)
            if gold is not None:
                return gold
        return _take_regular(sprint, member, now, lease)


def _lock_member(sprint_id: int, annotator: AbstractBaseUser) -> SprintMember | None:
    """The member row, locked (so one annotator's double click cannot lease two items), read
    with its sprint and rubric."""
    if connection.vendor == "postgresql":
        return labeling_sql.lock_member(sprint_id, annotator.pk)
    # FOR UPDATE OF the member row alone: a bare FOR UPDATE would also lock the sprint and
    # rubric rows, and every request of the sprint would queue on them.
    return (
        SprintMember.objects.select_for_update(of=("self",))
        .select_related("sprint__rubric")
        .filter(sprint_id=sprint_id, user=annotator)
        .order_by("pk")
        .first()
    )


def _live_lease(sprint: Sprint, annotator: AbstractBaseUser, now: datetime) -> Assignment | None:
    if connection.vendor == "postgresql":
        return labeling_sql.live_lease(sprint.pk, annotator.pk, now)
    return (
        Assignment.objects.filter(
            sprint=sprint,
            annotator=annotator,
            status=AssignmentStatus.LEASED,
            lease_expires_at__gt=now,
        )
        .order_by("leased_at")
        .first()
    )


def _lock_candidate(
    sprint: Sprint, annotator_id: int, *, gold: bool, after: int, before: int | None = None
) -> Item | None:
    """The first item of the sprint with an id in (``after``, ``before``) that the annotator
    was never handed and that is not full (gold: full or not), locked with SKIP LOCKED where
    the database has it.

    NOT EXISTS probes the (item, annotator) unique index per candidate; NOT IN would read all of
    the annotator's assignments on every request, which grows with their history. The id range
    is repeated inside the subquery because PostgreSQL does not carry it across the join: when
    it plans a merge anti join, that bound is what starts its walk of the assignment index at
    the cursor instead of at the sprint's first item.
    """
    if connection.vendor == "postgresql":
        return labeling_sql.lock_candidate(
            sprint.pk, annotator_id, gold=gold, after=after, before=before
        )
    ids = Q(id__gt=after) if before is None else Q(id__gt=after, id__lt=before)
    item_ids = Q(item_id__gt=after) if before is None else Q(item_id__gt=after, item_id__lt=before)
    mine = Assignment.objects.filter(item_ids, item_id=OuterRef("pk"), annotator_id=annotator_id)
    candidates = Item.objects.filter(ids, sprint=sprint, is_gold=gold).exclude(Exists(mine))
    if not gold:
        candidates = candidates.filter(is_full=False)
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True, of=("self",))
    return candidates.only(*labeling_sql.CANDIDATE_FIELDS).order_by("id").first()


def _take_regular(
    sprint: Sprint, member: SprintMember, now: datetime, lease: timedelta
) -> Assignment | None:
    for behind in (False, True):
        after = 0 if behind else member.queue_cursor
        while True:
            item = _lock_candidate(sprint, member.user_id, gold=False, after=after)
            if item is None:
                break
            after = item.id
            # The first pass moves the member's cursor on; the second looks behind it for
            # leases that lapsed since, and leaves the cursor where it is.
            assignment = _claim_slot(sprint, item, member, now, lease, advance_cursor=not behind)
            if assignment is not None:
                return assignment
    return None


def _take_gold(
    sprint: Sprint, member: SprintMember, now: datetime, lease: timedelta, rng: random.Random
) -> Assignment | None:
    """A gold item this annotator has not met, from a random point of the gold ids (wrapping
    round), so that annotators meet gold in different orders."""
    bounds = Item.objects.filter(sprint=sprint, is_gold=True).aggregate(
        first=Min("id"), last=Max("id")
    )
    if bounds["first"] is None:
        return None
    start = rng.randint(bounds["first"], bounds["last"])
    item = _lock_candidate(sprint, member.user_id, gold=True, after=start - 1) or (
        _lock_candidate(sprint, member.user_id, gold=True, after=0, before=start)
    )
    if item is None:
        return None
    return _lease(sprint, item, member, now, lease)


def _claim_slot(
    sprint: Sprint,
    item: Item,
    member: SprintMember,
    now: datetime,
    lease: timedelta,
    *,
    advance_cursor: bool,
) -> Assignment | None:
    """Lease a slot of a locked regular item, or ``None`` if it turns out to be full.

    Under the item's lock: leases on it that lapsed are released (the release task does the
    same every minute, but the queue must not wait for it to be right), its live assignments
    are counted, a lease is created if fewer than k are live, ``is_full`` is set when the k-th
    slot goes (or was already gone), and the member's cursor moves to the item. On PostgreSQL
    that is one statement (:data:`annotation.services.labeling_sql.CLAIM_SLOT_SQL`);
    elsewhere one ORM call per step.
    """
    if connection.vendor == "postgresql":
        assignment_id = labeling_sql.claim_slot(
            sprint=sprint,
            item=item,
            member=member,
            now=now,
            expires=now + lease,
            advance_cursor=advance_cursor,
        )
        if assignment_id is None:
            return None
        if advance_cursor:
            member.queue_cursor = item.id
        return _leased(assignment_id, sprint, item, member, now, lease)
    Assignment.objects.filter(
        item=item, status=AssignmentStatus.LEASED, lease_expires_at__lte=now
    ).update(status=AssignmentStatus.RELEASED)
    live = Assignment.objects.filter(LIVE, item=item).count()
    if live >= sprint.overlap_k:
        Item.objects.filter(pk=item.pk).update(is_full=True)
        return None
    assignment = _lease(sprint, item, member, now, lease)
    if live + 1 >= sprint.overlap_k:
        Item.objects.filter(pk=item.pk).update(is_full=True)
    if advance_cursor:
        member.queue_cursor = item.id
        member.save(update_fields=["queue_cursor"])
    return assignment


def _leased(
    assignment_id: int,
    sprint: Sprint,
    item: Item,
    member: SprintMember,
    now: datetime,
    lease: timedelta,
) -> Assignment:
    """The instance of a lease the claim statement inserted, as the ORM would have made it."""
    values = {
        "id": assignment_id,
        "sprint_id": sprint.pk,
        "item_id": item.pk,
        "annotator_id": member.user_id,
        "status": AssignmentStatus.LEASED,
        "leased_at": now,
        "lease_expires_at": now + lease,
        "skip_reason": "",
    }
    assignment = Assignment.from_db(connection.alias, list(values), list(values.values()))
    assignment.sprint = sprint
    assignment.item = item
    return assignment


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
