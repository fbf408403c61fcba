"""Who may do what in a sprint.

A superuser acts as lead everywhere; everyone else has exactly the role their sprint membership
gives them, and no role at all in sprints they are not a member of. Views and the admin ask
here rather than checking roles themselves, so that the rule lives in one place.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from annotation.models import Judgment, Sprint, SprintMember, SprintRole

_RANK = {SprintRole.ANNOTATOR: 1, SprintRole.REVIEWER: 2, SprintRole.LEAD: 3}


def sprint_role(user: AbstractBaseUser, sprint: Sprint) -> SprintRole | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return SprintRole.LEAD
    role = (
        SprintMember.objects.filter(sprint=sprint, user=user).values_list("role", flat=True).first()
    )
    return SprintRole(role) if role else None


def role_at_least(role: SprintRole | None, at_least: SprintRole) -> bool:
    return role is not None and _RANK[role] >= _RANK[at_least]


def has_sprint_role(user: AbstractBaseUser, sprint: Sprint, at_least: SprintRole) -> bool:
    return role_at_least(sprint_role(user, sprint), at_least)


def sprints_visible_to(user: AbstractBaseUser) -> QuerySet[Sprint]:
    """The sprints a user is a member of, whatever the role; all of them for a superuser."""
    if not user.is_authenticated or not user.is_active:
        return Sprint.objects.none()
    if user.is_superuser:
        return Sprint.objects.all()
    return Sprint.objects.filter(memberships__user=user).distinct()


def sprints_led_by(user: AbstractBaseUser) -> QuerySet[Sprint]:
    if not user.is_authenticated or not user.is_active:
        return Sprint.objects.none()
    if user.is_superuser:
        return Sprint.objects.all()
    return Sprint.objects.filter(
        memberships__user=user, memberships__role=SprintRole.LEAD
    ).distinct()


def own_judgments(user: AbstractBaseUser) -> QuerySet[Judgment]:
    """The caller's judgments in sprints they are still a member of. A removed member loses
    every door at once: their earlier judgments (and the items they show) are the sprint's,
    no longer theirs to read."""
    return Judgment.objects.filter(annotator=user, sprint__in=sprints_visible_to(user))
