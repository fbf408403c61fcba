"""Admin for leads: policy evaluations, read-only but for cancelling (start one through
``POST /api/v1/evaluations`` or ``manage.py evaluate_policy``).

Rows are scoped like the API: the evaluations of candidates whose dataset the user leads (every
sprint of it; :func:`training.services.evaluations.evaluations_led_by`). A page shows the
status and progress, the recorded sampling settings and seed, what generating cost, the
automatic first look, the reason a failed one failed, "queued, the workers are unreachable"
while the broker refused its job, and a link to the blind sprint it made.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from annotation.services.errors import ConcordError
from annotation.services.jobs import queue_warning
from training.admin import LeadTrainingAdmin, progress_html
from training.models import PolicyEvaluation
from training.services.evaluation_cancel import cancel_evaluation
from training.services.evaluations import EVALUATION_JOB, evaluations_led_by


@admin.register(PolicyEvaluation)
class PolicyEvaluationAdmin(LeadTrainingAdmin):
    list_display = [
        "id",
        "candidate",
        "baseline",
        "status",
        "progress_column",
        "sprint_link",
        "automatic_column",
        "created_by",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["candidate", "baseline", "sprint", "created_by"]
    readonly_fields = ["progress_column", "sprint_link", "automatic_column", "workers"]
    actions = ["cancel_evaluations"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PolicyEvaluation]:
        return evaluations_led_by(request.user).select_related(
            "candidate", "baseline", "sprint", "created_by"
        )

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # nothing to change: every field is a record of what was asked and done

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return self._is_lead(request)  # the rows are the lead's own; the service checks again

    @admin.action(description="Cancel the selected evaluations", permissions=["cancel"])
    def cancel_evaluations(
        self, request: HttpRequest, queryset: QuerySet[PolicyEvaluation]
    ) -> None:
        cancelled = 0
        for evaluation in queryset.select_related("candidate__run__dataset"):
            try:
                cancel_evaluation(evaluation, actor=request.user)
                cancelled += 1
            except ConcordError as refused:
                self.message_user(request, refused.detail, messages.WARNING)
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} evaluation(s).", messages.SUCCESS)

    @admin.display(description="progress")
    def progress_column(self, evaluation: PolicyEvaluation) -> str:
        return progress_html(f"{len(evaluation.prompts)} prompts, two sides", evaluation.progress)

    @admin.display(description="blind sprint")
    def sprint_link(self, evaluation: PolicyEvaluation) -> str:
        if evaluation.sprint is None:
            return "-"
        url = reverse("admin:annotation_sprint_change", args=[evaluation.sprint_id])
        return format_html('<a href="{}">{}</a>', url, evaluation.sprint.slug)

    @admin.display(description="reward model's win rate")
    def automatic_column(self, evaluation: PolicyEvaluation) -> str:
        automatic = evaluation.automatic or {}
        if "win_rate" not in automatic:
            return automatic.get("error", "-")
        low, high = automatic["ci"]
        return f"{automatic['win_rate']:.3f} [{low:.3f}, {high:.3f}] of {automatic['n']}"

    @admin.display(description="workers")
    def workers(self, evaluation: PolicyEvaluation) -> str:
        """ "queued, the workers are unreachable" while the broker refused the job."""
        if evaluation.status != "queued":
            return "-"
        return queue_warning(EVALUATION_JOB, evaluation.pk) or "-"
