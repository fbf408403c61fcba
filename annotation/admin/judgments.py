"""Assignments and judgments, read-only: judgments are append-only history (the database
refuses UPDATE on them) and assignments are moved only by the labeling service."""

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest

from annotation.admin.items import pretty_json
from annotation.admin.scoping import ReadOnlyAdmin, SprintScopedAdmin
from annotation.models import Assignment, Judgment
from annotation.services.serving import seen_as, seen_legend


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin, SprintScopedAdmin):
    list_display = ["id", "item", "annotator", "sprint", "status", "leased_at", "lease_expires_at"]
    list_filter = [("sprint", admin.RelatedOnlyFieldListFilter), "status"]
    list_select_related = ["item", "annotator", "sprint"]
    search_fields = ["item__external_id", "annotator__username"]
    date_hierarchy = "leased_at"


@admin.register(Judgment)
class JudgmentAdmin(ReadOnlyAdmin, SprintScopedAdmin):
    list_display = ["id", "item", "annotator", "sprint", "rubric", "is_live", "created_at"]
    list_filter = [("sprint", admin.RelatedOnlyFieldListFilter), "rubric"]
    list_select_related = ["item", "annotator", "sprint", "rubric"]
    search_fields = ["item__external_id", "annotator__username"]
    date_hierarchy = "created_at"
    fields = [
        "sprint",
        "item",
        "assignment",
        "annotator",
        "rubric",
        "answers_display",
        "seen_as_display",
        "seconds",
        "supersedes",
        "idempotency_key",
        "created_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Judgment]:
        revised = Judgment.objects.filter(supersedes=OuterRef("pk"))
        return super().get_queryset(request).annotate(revised=Exists(revised))

    @admin.display(description="live", boolean=True, ordering="revised")
    def is_live(self, judgment: Judgment) -> bool:
        return not judgment.revised

    @admin.display(description="answers")
    def answers_display(self, judgment: Judgment) -> str:
        return pretty_json(judgment.answers)

    @admin.display(description="the annotator saw")
    def seen_as_display(self, judgment: Judgment) -> str:
        """The annotator's own names for the responses: their rationale's "Response 1" is the
        stored response mapped to 1 here, not the first stored one."""
        keys = judgment.item.responses.order_by("position").values_list("key", flat=True)
        return seen_legend(seen_as(judgment.assignment_id, keys))
