"""The annotator's home: my progress per sprint and my latest judgments."""

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import Assignment, Item, Judgment, Sprint
from annotation.models.judgments import AssignmentStatus
from annotation.services.access import own_judgments


@dataclass(frozen=True)
class SprintProgress:
    sprint: Sprint
    items: int
    judged: int
    left: int
    can_label: bool


@dataclass(frozen=True)
class QueueProgress:
    left: int
    done_today: int


def _left_for(user: AbstractBaseUser, sprint: Sprint) -> int:
    """Items still open to me in the sprint (one query): not judged or skipped by me, and not
    already taken by ``k`` others; gold items count as open until I met them, since the queue
    mixes them in; the item I hold a lease on counts."""
    items = Item.objects.filter(sprint=sprint)
    done = Q(
        assignments__annotator=user,
        assignments__status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED],
    )
    mine_done = items.filter(done).values("id")
    mine_leased = items.filter(
        assignments__annotator=user, assignments__status=AssignmentStatus.LEASED
    ).values("id")
    return (
        items.exclude(id__in=mine_done)
        .filter(Q(is_full=False) | Q(is_gold=True) | Q(id__in=mine_leased))
        .count()
    )


# How long the labeling page trusts its count of the items left to a user before counting
# again: counting scans the sprint's items (90 ms at 100,000 items, bench/labeling_progress.py),
# too slow for every item served; in between, the user's own finished items are subtracted.
LEFT_RECOUNT_SECONDS = 120


def _finished(user: AbstractBaseUser, sprint: Sprint) -> int:
    """My submitted or skipped assignments in the sprint (the ``assignment_queue`` index)."""
    return Assignment.objects.filter(
        sprint=sprint,
        annotator=user,
        status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED],
    ).count()


def queue_progress(
    user: AbstractBaseUser, sprint: Sprint, *, queue_empty: bool = False
) -> QueueProgress:
    """What the labeling page shows beside the item: the items left for me in this sprint and
    the items I judged in it today (first judgments since local midnight; revisions and skips
    do not count).

    Two indexed counts per call (my finished assignments, my judgments of today), whatever the
    sprint's size. The items left are counted in full (``_left_for``) at most once per
    ``LEFT_RECOUNT_SECONDS`` per user and sprint and process; in between, each item I finish
    since that count is subtracted from it, so my own progress shows at once and other
    annotators' (items filling up to ``k``) within that time. ``queue_empty``: the queue just
    served me nothing, so 0 are left, and the next count starts afresh."""
    key = f"concord:left:{sprint.pk}:{sprint.created_at.timestamp()}:{user.pk}"
    finished = _finished(user, sprint)
    if queue_empty:
        cache.delete(key)
        left = 0
    else:
        counted = cache.get(key)
        if counted is None:
            counted = (_left_for(user, sprint), finished)
            cache.set(key, counted, LEFT_RECOUNT_SECONDS)
        left = max(0, counted[0] - (finished - counted[1]))
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    done_today = Judgment.objects.filter(
        sprint=sprint, annotator=user, supersedes__isnull=True, created_at__gte=midnight
    ).count()
    return QueueProgress(left=left, done_today=done_today)


def progress_for(user: AbstractBaseUser, sprints: list[Sprint]) -> list[SprintProgress]:
    """My progress per sprint: live judgments of mine, items in the sprint, and items still
    open to me (see ``_left_for``). Three queries per sprint, on indexed columns; a home page
    lists a handful of sprints."""
    rows = []
    for sprint in sprints:
        items = Item.objects.filter(sprint=sprint)
        left = _left_for(user, sprint)
        judged = Judgment.objects.filter(
            sprint=sprint, annotator=user, superseded_by__isnull=True
        ).count()
        rows.append(
            SprintProgress(
                sprint=sprint,
                items=items.aggregate(n=Count("id"))["n"],
                judged=judged,
                left=left,
                can_label=sprint.status == "active",
            )
        )
    return rows


def recent_judgments(user: AbstractBaseUser, limit: int = 20) -> list[Judgment]:
    """My latest live judgments, newest first, with what a list of them shows."""
    return list(
        own_judgments(user)
        .filter(superseded_by__isnull=True)
        .select_related("sprint", "item")
        .order_by("-created_at", "-id")[:limit]
    )
