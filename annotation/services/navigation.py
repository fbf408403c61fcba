"""Where each role can go: the links of the home page and of the navigation bar.

annotation is the ground floor and may not import the apps above it, so those apps register
their own pages here from their ``AppConfig.ready()``: a *sprint link* is a page of one sprint
(its dispute queue, its dashboard) shown to members of at least a given role, optionally with
a count (open disputes); a *tool link* is a page outside any sprint (exports, models) shown to
users a predicate accepts. The home page and the navigation bar only list what is registered,
so a link appears for exactly the users its page lets in.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.urls import reverse

from annotation.models import Sprint, SprintMember, SprintRole
from annotation.services.access import role_at_least, sprints_led_by, sprints_visible_to


@dataclass(frozen=True)
class SprintLink:
    """A page of one sprint: ``url_name`` is reversed with ``sprint_id``."""

    label: str
    url_name: str
    min_role: SprintRole
    count: Callable[[list[int]], dict[int, int]] | None = None
    """Given sprint ids, a number per sprint to show beside the link (missing means 0)."""


@dataclass(frozen=True)
class ToolLink:
    """A page outside any sprint, for the users ``allowed`` accepts."""

    label: str
    url_name: str
    allowed: Callable[[AbstractBaseUser], bool]
    description: str = ""
    position: int = 50
    """Where it stands among the tools, smallest first (annotation's own: 90 and up)."""


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    count: int | None = None
    description: str = ""


_SPRINT_LINKS: dict[str, SprintLink] = {}
_TOOL_LINKS: dict[str, ToolLink] = {}


def register_sprint_link(link: SprintLink) -> None:
    """Add (or replace, by label) a per-sprint page; call from an ``AppConfig.ready()``."""
    _SPRINT_LINKS[link.label] = link


def register_tool_link(link: ToolLink) -> None:
    """Add (or replace, by label) a page outside any sprint; call from ``AppConfig.ready()``."""
    _TOOL_LINKS[link.label] = link


def staff_lead(user: AbstractBaseUser) -> bool:
    """Staff who lead a sprint, or a superuser: who may open the leads' admin pages."""
    return bool(user.is_staff and (user.is_superuser or sprints_led_by(user).exists()))


def roles_by_sprint(user: AbstractBaseUser, sprints: list[Sprint]) -> dict[int, SprintRole]:
    """The user's role in each of ``sprints`` in one query (lead everywhere for a superuser)."""
    if user.is_superuser:
        return {sprint.pk: SprintRole.LEAD for sprint in sprints}
    rows = SprintMember.objects.filter(user=user, sprint__in=[s.pk for s in sprints])
    return {sprint_id: SprintRole(role) for sprint_id, role in rows.values_list("sprint", "role")}


def sprint_links(user: AbstractBaseUser, sprints: list[Sprint]) -> dict[int, list[Link]]:
    """For each sprint, the registered pages the user's role there lets them open, with counts
    (one query per counted link for all sprints together, not one per sprint)."""
    roles = roles_by_sprint(user, sprints)
    out: dict[int, list[Link]] = {sprint.pk: [] for sprint in sprints}
    for spec in _SPRINT_LINKS.values():
        ids = [pk for pk, role in roles.items() if role_at_least(role, spec.min_role)]
        if not ids:
            continue
        counts = spec.count(ids) if spec.count else {}
        for pk in ids:
            url = reverse(spec.url_name, kwargs={"sprint_id": pk})
            count = counts.get(pk, 0) if spec.count else None
            out[pk].append(Link(spec.label, url, count))
    return out


def tool_links(user: AbstractBaseUser) -> list[Link]:
    """The pages outside any sprint that the user may open, by position."""
    if not user.is_authenticated or not user.is_active:
        return []
    return [
        Link(spec.label, reverse(spec.url_name), description=spec.description)
        for spec in sorted(_TOOL_LINKS.values(), key=lambda spec: spec.position)
        if spec.allowed(user)
    ]


def current_sprint_links(
    user: AbstractBaseUser, sprint_id: int
) -> tuple[Sprint | None, list[Link]]:
    """The sprint a page belongs to and its pages this user may open (the sprint bar)."""
    sprint = sprints_visible_to(user).filter(pk=sprint_id).first()
    if sprint is None:
        return None, []
    return sprint, sprint_links(user, [sprint])[sprint.pk]
