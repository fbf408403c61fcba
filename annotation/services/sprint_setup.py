"""Setting a sprint up without the admin: sprints, their members and rubric versions, for the
REST API (``/api/v1/sprints``, ``/api/v1/sprints/{id}/members``, ``/api/v1/rubrics``).

The same rules as the admin, checked here rather than in a view:

- Creating a sprint or a rubric takes a lead's model permission (``annotation.add_sprint`` /
  ``add_rubric``, which the Leads group holds). The lead who creates a sprint leads it.
- Changing a sprint and managing its members take the lead role in that sprint; anyone else
  gets 404 (the sprint does not exist for them) or 403 (a member whose role is too low).
- A sprint's rubric cannot change once the sprint has judgments (they answered the old one),
  and a sprint becomes active only under a rubric that is ready (:func:`rubric_problems`).
- Rubrics are never edited through the API: posting a rubric whose name exists makes its next
  version, so stored answers keep the exact questions they answered.
- Every change is audited with the admin's event names (``sprint.created``, ``sprint.changed``,
  ``member.added`` / ``member.changed`` / ``member.removed``, ``rubric.created``) and happens
  whole or not at all.
"""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotation.models import (
    Criterion,
    CriterionKind,
    Judgment,
    Rubric,
    Sprint,
    SprintMember,
    SprintRole,
    SprintStatus,
)
from annotation.services.access import has_sprint_role, sprint_role
from annotation.services.audit import json_safe, record_event, snapshot
from annotation.services.errors import ConcordError
from annotation.services.rubrics import rubric_problems, validate_criterion_config

# The fields a sprint and a membership are audited by (here and in the admin).
SPRINT_FIELDS = [
    "name",
    "slug",
    "description",
    "rubric",
    "status",
    "overlap_k",
    "gold_rate",
    "agreement_threshold",
    "lease_minutes",
    "deadline",
]
MEMBER_FIELDS = ["user", "role", "pseudonym"]


def _require_permission(actor: AbstractBaseUser, codename: str, what: str) -> None:
    if not (actor.is_active and actor.is_staff and actor.has_perm(f"annotation.{codename}")):
        raise ConcordError(f"Only leads may create {what}.", 403)


def require_lead(actor: AbstractBaseUser, sprint: Sprint) -> None:
    """404 for a non-member (the sprint does not exist for them), 403 below the lead role."""
    role = sprint_role(actor, sprint)
    if role is None:
        raise ConcordError("No such sprint.", 404)
    if not has_sprint_role(actor, sprint, SprintRole.LEAD):
        raise ConcordError("This needs the lead role in this sprint.", 403)


def _problems_of(error: ValidationError) -> list[dict[str, str]]:
    if hasattr(error, "error_dict"):
        return [
            {"field": "" if field == "__all__" else field, "message": message}
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return [{"field": "", "message": message} for message in error.messages]


def _check_rubric_ready(sprint: Sprint) -> None:
    if sprint.status == SprintStatus.ACTIVE:
        problems = rubric_problems(sprint.rubric)
        if problems:
            raise ConcordError(
                [{"field": "status", "message": f"The rubric is not ready: {p}."} for p in problems]
            )


def _validated_save(sprint: Sprint) -> None:
    try:
        sprint.full_clean(validate_unique=True)
    except ValidationError as error:
        raise ConcordError(_problems_of(error)) from None
    _check_rubric_ready(sprint)
    try:
        with transaction.atomic():
            sprint.save()
    except IntegrityError:  # a slug taken between the check and the write
        raise ConcordError("A sprint with this slug exists.", 409, field="slug") from None


@transaction.atomic
def create_sprint(actor: AbstractBaseUser, values: dict[str, Any]) -> Sprint:
    """Create a sprint from ``values`` (the model's fields, ``rubric`` a :class:`Rubric`) and
    make the actor its lead (a superuser is lead everywhere and gets no membership). Audits
    ``sprint.created`` and ``member.added``. A taken slug is a 400 on ``slug``."""
    _require_permission(actor, "add_sprint", "sprints")
    sprint = Sprint(**values, created_by=actor)
    _validated_save(sprint)
    record_event(
        actor, "sprint.created", sprint, sprint=sprint, changes=snapshot(sprint, SPRINT_FIELDS)
    )
    if not actor.is_superuser:
        member = SprintMember.objects.create(sprint=sprint, user=actor, role=SprintRole.LEAD)
        record_event(
            actor, "member.added", member, sprint=sprint, changes=snapshot(member, MEMBER_FIELDS)
        )
    return sprint


@transaction.atomic
def update_sprint(actor: AbstractBaseUser, sprint: Sprint, changes: dict[str, Any]) -> Sprint:
    """Apply ``changes`` to a sprint the actor leads, under a row lock, and audit
    ``sprint.changed`` with ``{field: {"from", "to"}}``. Refuses (409, on ``rubric``) a new
    rubric once the sprint has judgments."""
    require_lead(actor, sprint)
    sprint = Sprint.objects.select_for_update().select_related("rubric").get(pk=sprint.pk)
    before = snapshot(sprint, SPRINT_FIELDS)
    rubric = changes.get("rubric")
    moved = rubric is not None and rubric.pk != sprint.rubric_id
    if moved and Judgment.objects.filter(sprint=sprint).exists():
        raise ConcordError(
            "The sprint has judgments under its rubric; start a new sprint for the new "
            "rubric version.",
            409,
            field="rubric",
        )
    for name, value in changes.items():
        setattr(sprint, name, value)
    _validated_save(sprint)
    diff = _changes(before, snapshot(sprint, SPRINT_FIELDS))
    if diff:
        record_event(actor, "sprint.changed", sprint, sprint=sprint, changes=diff)
    return sprint


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"from", "to"}}`` for the fields two snapshots disagree on (the admin's
    ``form_changes`` shape)."""
    return {
        name: {"from": before[name], "to": after[name]}
        for name in before
        if before[name] != after[name]
    }


def _membership(sprint: Sprint, user_id: int) -> SprintMember:
    member = (
        SprintMember.objects.select_for_update()
        .select_related("user")
        .filter(sprint=sprint, user_id=user_id)
        .first()
    )
    if member is None:
        raise ConcordError("No such member of this sprint.", 404, field="user")
    return member


def _keep_a_lead(sprint: Sprint, leaving: SprintMember) -> None:
    others = SprintMember.objects.filter(sprint=sprint, role=SprintRole.LEAD).exclude(pk=leaving.pk)
    if leaving.role == SprintRole.LEAD and not others.exists():
        raise ConcordError(
            "A sprint keeps at least one lead: make someone else lead first.", 409, field="user"
        )


@transaction.atomic
def change_member(
    actor: AbstractBaseUser, sprint: Sprint, user_id: int, changes: dict[str, Any]
) -> SprintMember:
    """Change a member's ``role`` or ``pseudonym`` in a sprint the actor leads; audits
    ``member.changed``. The last lead cannot step down (409)."""
    require_lead(actor, sprint)
    member = _membership(sprint, user_id)
    if changes.get("role", member.role) != SprintRole.LEAD:
        _keep_a_lead(sprint, member)
    before = snapshot(member, MEMBER_FIELDS)
    for name in ("role", "pseudonym"):
        if name in changes:
            setattr(member, name, changes[name])
    member.save(update_fields=["role", "pseudonym"])
    diff = _changes(before, snapshot(member, MEMBER_FIELDS))
    if diff:
        record_event(
            actor, "member.changed", member, sprint=sprint, changes={"user": user_id, **diff}
        )
    return member


@transaction.atomic
def remove_member(actor: AbstractBaseUser, sprint: Sprint, user_id: int) -> None:
    """Remove a member from a sprint the actor leads; audits ``member.removed``. They lose
    every door at once (the services check membership; a last membership's tokens are revoked
    by :mod:`annotation.signals`). The last lead cannot be removed (409)."""
    require_lead(actor, sprint)
    member = _membership(sprint, user_id)
    _keep_a_lead(sprint, member)
    record_event(
        actor, "member.removed", member, sprint=sprint, changes=snapshot(member, MEMBER_FIELDS)
    )
    member.delete()


def _criterion_problems(criteria: list[dict[str, Any]]) -> list[dict[str, str]]:
    problems = []
    names = [c["name"] for c in criteria]
    for index, criterion in enumerate(criteria):
        if names.count(criterion["name"]) > 1:
            problems.append(
                {"field": f"criteria[{index}].name", "message": "Criterion names must be unique."}
            )
        for message in validate_criterion_config(criterion["kind"], criterion.get("config", {})):
            problems.append({"field": f"criteria[{index}].config", "message": message})
    if sum(c["kind"] == CriterionKind.PREFERENCE for c in criteria) != 1:
        problems.append(
            {"field": "criteria", "message": "A rubric has exactly one preference criterion."}
        )
    return problems


@transaction.atomic
def create_rubric_version(
    actor: AbstractBaseUser, name: str, guidelines: str, criteria: list[dict[str, Any]]
) -> Rubric:
    """Store a rubric with its criteria: version 1 of a new name, or the next version of an
    existing one (linked to it as ``previous``). Never edits a stored version. Every problem
    of every criterion is reported at once, named by index; nothing is stored on any."""
    _require_permission(actor, "add_rubric", "rubrics")
    problems = _criterion_problems(criteria)
    if problems:
        raise ConcordError(problems)
    latest = Rubric.objects.select_for_update().filter(name=name).order_by("-version").first()
    try:
        with transaction.atomic():
            rubric = Rubric.objects.create(
                name=name,
                guidelines=guidelines,
                version=latest.version + 1 if latest else 1,
                previous=latest,
                created_by=actor,
            )
    except IntegrityError:
        raise ConcordError(
            "Another version was just stored; try again.", 409, field="name"
        ) from None
    Criterion.objects.bulk_create(
        Criterion(
            rubric=rubric,
            position=position,
            name=c["name"],
            kind=c["kind"],
            question=c["question"],
            help_text=c.get("help_text", ""),
            required=c.get("required", True),
            config=c.get("config", {}),
        )
        for position, c in enumerate(criteria)
    )
    changes = {
        "name": name,
        "version": rubric.version,
        "previous": latest.pk if latest else None,
        "criteria": json_safe([c["name"] for c in criteria]),
    }
    record_event(actor, "rubric.created", rubric, changes=changes)
    return rubric
