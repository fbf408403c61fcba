"""Turning admin form edits into the ``changes`` of an audit event.

Audit events store JSON, so values are reduced to what JSON holds: related objects to their
primary key (stable when names change), dates to ISO 8601, anything else unknown to text.
"""

from typing import Any

from django import forms

from annotation.services.audit import json_safe, snapshot

__all__ = ["AuditedDeleteMixin", "form_changes", "json_safe", "snapshot"]


def form_changes(form: forms.BaseForm) -> dict[str, dict[str, Any]]:
    """``{field: {"from": old, "to": new}}`` for every field the form changed."""
    out: dict[str, dict[str, Any]] = {}
    for name in form.changed_data:
        if name in ("DELETE", "id") or name not in form.cleaned_data:
            continue
        out[name] = {
            "from": json_safe(form.initial.get(name)),
            "to": json_safe(form.cleaned_data[name]),
        }
    return out


class AuditedDeleteMixin:
    """Records an audit event for every row an admin deletes, one by one, bulk actions included.

    Django's bulk ``delete_queryset`` skips ``delete_model``; routing it through ``delete_model``
    is slower but leaves one event per row, which is what an auditor reads. The event is not
    linked through a ``sprint`` foreign key: that would protect the row being deleted.
    """

    audit_delete_action: str = ""
    audit_delete_fields: list[str] = []

    def delete_model(self, request, obj) -> None:
        from annotation.services.audit import record_event

        changes = snapshot(obj, self.audit_delete_fields)
        record_event(request.user, self.audit_delete_action, obj, changes=changes)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
