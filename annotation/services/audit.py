"""The one door for audit events."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models

from annotation.models import AuditEvent, Sprint


def record_event(
    actor: AbstractBaseUser | None,
    action: str,
    obj: models.Model,
    *,
    sprint: Sprint | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Call it inside the transaction of the change it records, so that
    the event exists exactly when the change does."""
    actor_ref = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=actor_ref,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        sprint=sprint,
        changes=changes or {},
    )
