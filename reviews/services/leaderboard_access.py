"""Who may see the model leaderboard: the leads of every sprint it covers, and superusers.

The leaderboard names the model that wrote each response. Reviewers are not only reviewers:
they label too (a reviewer can do everything an annotator can, their own queue included), so a
reviewer who ranks ``a`` over ``b`` and then reads the leaderboard learns which model wrote
``a`` from how the ratings move, and every judgment after that is no longer blind. A blind
evaluation sprint is worth nothing then, so only the people who do not label in it, its leads,
may see which models won.

The rule lives here once; the API (one sprint and several), the page and ``manage.py
leaderboard --user`` all ask it. It raises Django's ``Http404`` and ``PermissionDenied`` (as
:func:`training.api.access.require_led` does), which the API and the pages both answer: a
sprint that does not exist or of which the caller is no member makes the whole call a 404
(checked for every sprint first, so the answer never tells which of them exist), then any
sprint the caller is a member of but does not lead a 403.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotation.models import Sprint, SprintMember, SprintRole
from reviews.services.leaderboard import DEFAULT_BOOTSTRAP, leaderboard

LEADS_ONLY = (
    "The model leaderboard is for the sprint's leads: it names the model behind each "
    "response, and reviewers label too."
)


def _roles(user: AbstractBaseUser, sprint_ids: list[int]) -> dict[int, SprintRole]:
    """The user's role in each of ``sprint_ids`` they are a member of, in one query (lead
    everywhere for an active superuser; nothing for an anonymous or inactive user)."""
    if not user.is_authenticated or not user.is_active:
        return {}
    if user.is_superuser:
        return dict.fromkeys(sprint_ids, SprintRole.LEAD)
    rows = SprintMember.objects.filter(user=user, sprint_id__in=sprint_ids)
    return {sprint_id: SprintRole(role) for sprint_id, role in rows.values_list("sprint", "role")}


def leaderboard_sprints(user: AbstractBaseUser, sprint_ids: list[int]) -> list[Sprint]:
    """The sprints ``sprint_ids`` (duplicates dropped, order kept) if ``user`` leads every one
    of them or is a superuser. Raises ``Http404`` when any of them does not exist or ``user`` is
    no member of it (whatever the other sprints are), else ``PermissionDenied`` when ``user``
    is a reviewer or annotator of any: reviewers label too, and the leaderboard would tell
    them which model wrote the responses they judge."""
    ids = list(dict.fromkeys(sprint_ids))
    found = Sprint.objects.in_bulk(ids)
    roles = _roles(user, ids)
    if any(pk not in found or pk not in roles for pk in ids):
        raise Http404("No such sprint.")
    if any(roles[pk] != SprintRole.LEAD for pk in ids):
        raise PermissionDenied(LEADS_ONLY)
    return [found[pk] for pk in ids]


def leaderboard_for(
    user: AbstractBaseUser,
    sprint_ids: list[int],
    *,
    source: str = "consensus",
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> dict:
    """:func:`reviews.services.leaderboard.leaderboard` of ``sprint_ids`` for ``user``, once
    :func:`leaderboard_sprints` lets them see it (its 404 and 403 otherwise)."""
    sprints = leaderboard_sprints(user, sprint_ids)
    return leaderboard(sprints, source=source, bootstrap=bootstrap, seed=seed)
