"""Assignments: leases on (item, annotator) pairs and their expiry."""

import logging
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotation.models import Assignment, Item
from annotation.models.judgments import AssignmentStatus

log = logging.getLogger(__name__)


def members_assignments(annotator: AbstractBaseUser) -> QuerySet[Assignment]:
    """The annotator's assignments in the sprints they are still a member of, in any role.

    The doors that act on an assignment (submit, revise, skip, flag) look it up here, so a
    member a lead removed can no longer write through an old assignment: it reads as someone
    else's (404), and the membership costs a join, not a statement of its own.
    """
    return Assignment.objects.filter(annotator=annotator, sprint__memberships__user=annotator)


def release_expired_leases(now: datetime | None = None) -> int:
    """Return to the pool every assignment whose lease ran out before ``now`` (default: the
    current time) and answer how many were released.

    Guarantees: only assignments that are still ``leased`` and whose ``lease_expires_at`` is
    strictly before ``now`` change, and they become ``released``; submitted, skipped and
    already released assignments and live leases are never touched. The release is one UPDATE
    statement, so a judgment submitted concurrently either lands first (its assignment is no
    longer ``leased`` and is left alone) or finds the assignment released. The items of those
    assignments lose their ``is_full`` mark in the same transaction, so the queue
    (:mod:`annotation.services.queue`) offers them again; it recounts live assignments under
    the item's lock, so reopening an item that is in fact still full is harmless. Idempotent:
    a second call with the same ``now`` changes nothing. Safe to run from several schedulers
    at once. Locks: the rows it updates, items before assignments, the order the queue uses.
    """
    now = now if now is not None else timezone.now()
    expired = Assignment.objects.filter(status=AssignmentStatus.LEASED, lease_expires_at__lt=now)
    with transaction.atomic():
        # Items first, from the same filter: no lease that expires before `now` can appear
        # between the two statements (new leases end in the future), so every item whose lease
        # the UPDATE below releases is reopened.
        Item.objects.filter(is_full=True, pk__in=expired.values("item_id")).update(is_full=False)
        released = expired.update(status=AssignmentStatus.RELEASED)
    if released:
        log.info("released %d expired assignment lease(s)", released)
    return released
