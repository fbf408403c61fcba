"""Object-level checks for sprint-scoped API calls.

A caller with no role in a sprint gets 404, as if the sprint did not exist: a 403 would tell an
annotator of sprint A that sprint B is there. A member whose role is too low gets 403.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import Http404
from rest_framework.exceptions import PermissionDenied

from annotation.models import Sprint, SprintRole
from annotation.services.access import role_at_least, sprint_role


def require_sprint_role(user: AbstractBaseUser, sprint: Sprint, at_least: SprintRole) -> SprintRole:
    role = sprint_role(user, sprint)
    if role is None:
        raise Http404("No such sprint.")
    if not role_at_least(role, at_least):
        raise PermissionDenied(f"This needs the {at_least.label.lower()} role in this sprint.")
    return role
