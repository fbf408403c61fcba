"""The audit log, read-only to everyone: it is evidence, and the database refuses UPDATE on it.

A lead sees the events of the sprints they lead, plus the events they caused themselves (rubric
edits, which belong to no sprint).
"""

from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest

from annotation.admin.items import pretty_json
from annotation.admin.scoping import ReadOnlyAdmin, SprintScopedAdmin
from annotation.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, SprintScopedAdmin):
    list_display = ["created_at", "actor", "action", "object_type", "object_id", "sprint"]
    list_filter = [
        "action",
        "object_type",
        ("sprint", admin.RelatedOnlyFieldListFilter),
        ("actor", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["actor", "sprint"]
    search_fields = ["action", "object_type", "object_id", "actor__username"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "sprint",
        "changes_display",
    ]
    readonly_fields = fields

    def scope_filter(self, request: HttpRequest) -> Q:
        return super().scope_filter(request) | Q(actor=request.user)

    @admin.display(description="changes")
    def changes_display(self, event: AuditEvent) -> str:
        return pretty_json(event.changes)
