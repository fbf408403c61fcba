"""The one door for audit events, and the reduction of values to what an event's JSON holds:
related objects to their primary key (stable when names change), dates to ISO 8601, anything
else unknown to text."""

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.db.models.fields.files import FieldFile

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


def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal | FieldFile):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | models.QuerySet):
        return [json_safe(v) for v in value]
    return str(value)


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The listed fields of a row, for events about rows that are created or deleted whole."""
    return {name: json_safe(obj.serializable_value(name)) for name in fields}
