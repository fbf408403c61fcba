"""Consensus labels and disputes in the admin, for leads, scoped to the sprints they lead.

Both are read-only here: labels are written by the consensus service and by adjudication,
disputes are settled on the reviewer's page (``/reviews/disputes/<id>``), the one door that
validates the ranking and writes the audit event; the admin links there. The right to see them
comes from the lead role in a sprint (as for exports), not from model permissions: a staff
user who leads a sprint sees that sprint's rows, a superuser all of them.
"""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from annotation.admin.items import pretty_json
from annotation.admin.scoping import ReadOnlyAdmin, SprintScopedAdmin
from annotation.services.access import sprints_led_by
from reviews.models import ConsensusLabel, Dispute


class LeadsReadOnlyAdmin(ReadOnlyAdmin, SprintScopedAdmin):
    def _leads(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active
            and user.is_staff
            and (user.is_superuser or sprints_led_by(user).exists())
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._leads(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._leads(request)


@admin.register(ConsensusLabel)
class ConsensusLabelAdmin(LeadsReadOnlyAdmin):
    list_display = ["item", "sprint", "ranking", "tie", "method", "confidence", "agreement"]
    list_filter = [("sprint", admin.RelatedOnlyFieldListFilter), "method", "tie"]
    list_select_related = ["item", "sprint"]
    search_fields = ["item__external_id"]
    fields = [
        "sprint", "item", "ranking", "tie", "strength", "method", "confidence", "agreement",
        "answers_display", "judgment_ids", "updated_at",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="answers")
    def answers_display(self, label: ConsensusLabel) -> str:
        return pretty_json(label.answers)


@admin.register(Dispute)
class DisputeAdmin(LeadsReadOnlyAdmin):
    list_display = ["id", "item", "sprint", "status", "reasons", "opened_at", "review_link"]
    list_filter = [("sprint", admin.RelatedOnlyFieldListFilter), "status"]
    list_select_related = ["item", "sprint"]
    search_fields = ["item__external_id"]
    date_hierarchy = "opened_at"
    fields = [
        "sprint", "item", "status", "reasons", "opened_at", "resolved_by", "resolved_at",
        "final_ranking", "final_answers", "rationale", "review_link",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="review")
    def review_link(self, dispute: Dispute) -> str:
        return format_html(
            '<a href="{}">open the review page</a>', reverse("dispute-detail", args=[dispute.pk])
        )
