"""The "Leads" group: the model permissions a sprint lead needs in the admin.

Model permissions say which kinds of object a lead may open; which rows they see is decided by
:mod:`annotation.admin.scoping`. Migration 0003 creates the group with a frozen copy of this
list (migrations must not depend on code that changes later); :func:`ensure_leads_group` is for
code that runs after migrations, such as ``seed_demo`` and tests that flush the database.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

LEADS_GROUP = "Leads"

# Delete on criteria and members only: a lead removes a member who left or a criterion from a
# rubric no judgment answers yet (frozen rubrics refuse it); sprints, rubrics and history stay.
LEAD_PERMISSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("annotation", "rubric"): ("view", "add", "change"),
    ("annotation", "criterion"): ("view", "add", "change", "delete"),
    ("annotation", "sprint"): ("view", "add", "change"),
    ("annotation", "sprintmember"): ("view", "add", "change", "delete"),
    ("annotation", "item"): ("view",),
    ("annotation", "response"): ("view",),
    ("annotation", "goldanswer"): ("view",),
    ("annotation", "assignment"): ("view",),
    ("annotation", "judgment"): ("view",),
    ("annotation", "auditevent"): ("view",),
    # View only: people join by invitation and only superusers change accounts.
    ("auth", "user"): ("view",),
}


def ensure_leads_group() -> Group:
    """Create the Leads group if needed and add any of the permissions above it lacks.
    Idempotent; permissions an administrator added to the group by hand are kept."""
    group, _ = Group.objects.get_or_create(name=LEADS_GROUP)
    wanted = Q(pk__in=[])
    for (app_label, model), actions in LEAD_PERMISSIONS.items():
        wanted |= Q(
            content_type__app_label=app_label,
            content_type__model=model,
            codename__in=[f"{action}_{model}" for action in actions],
        )
    group.permissions.add(*Permission.objects.filter(wanted))
    return group
