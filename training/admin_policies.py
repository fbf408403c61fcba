"""Admin for leads: the policy registry (scoped like the API: versions of datasets whose every
sprint the lead leads), a rollback action on both registries (policies and reward models)
that asks for a reason on an intermediate page, and the registries' events, read-only.

Promotion of a policy goes through its page (``/training/policies/<id>``), where the gate's
evidence is shown; each row links there. Every change goes through
:mod:`training.services.stages`, which checks the lead rule again.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from annotation.services.errors import ConcordError
from training.admin import LeadTrainingAdmin, ModelVersionAdmin
from training.models import PolicyVersion, RegistryEvent
from training.services.policy_registry import policies_led_by
from training.services.stages import MAX_REASON, events_led_by, rollback


@admin.action(description="Roll back production to the previous version", permissions=["change"])
def rollback_to_previous(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
    """Ask for the reason on an intermediate page, then roll back each selected production
    version (a refusal is reported per version, and changes nothing for it)."""
    versions = list(queryset.order_by("name", "version"))
    reason = request.POST.get("reason", "")
    if request.POST.get("post") != "yes" or not reason.strip():
        error = "Give a reason (it is kept with the event)." if "post" in request.POST else ""
        context = {
            **model_admin.admin_site.each_context(request),
            "title": "Roll back production",
            "opts": model_admin.opts,
            "versions": versions,
            "reason": reason,
            "error": error,
            "max_reason": MAX_REASON,
            "action": "rollback_to_previous",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/training/rollback.html", context)
    for version in versions:
        try:
            target = rollback(version, actor=request.user, reason=reason)
        except ConcordError as refused:
            model_admin.message_user(request, f"{version}: {refused.detail}", messages.ERROR)
        else:
            model_admin.message_user(
                request,
                f"{version.name}: production is v{target.version} again.",
                messages.SUCCESS,
            )
    return None


ModelVersionAdmin.actions = [*ModelVersionAdmin.actions, rollback_to_previous]


@admin.register(PolicyVersion)
class PolicyVersionAdmin(LeadTrainingAdmin):
    list_display = [
        "__str__",
        "name",
        "version",
        "stage",
        "base_model",
        "adapter",
        "run",
        "promoted_by",
        "promoted_at",
        "evidence_page",
    ]
    list_filter = ["stage", "name"]
    list_select_related = ["run", "promoted_by"]
    search_fields = ["name"]
    actions = [rollback_to_previous]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PolicyVersion]:
        return policies_led_by(request.user)

    @admin.display(description="evidence, promote, roll back")
    def evidence_page(self, policy: PolicyVersion) -> str:
        return format_html('<a href="{}">open</a>', reverse("training-policy", args=[policy.pk]))


@admin.register(RegistryEvent)
class RegistryEventAdmin(LeadTrainingAdmin):
    """Promotions, archivings and rollbacks of the versions the lead leads; read-only."""

    list_display = [
        "created_at",
        "registry",
        "event",
        "name",
        "version",
        "previous_id",
        "actor",
        "override",
        "reason",
    ]
    list_filter = ["registry", "event"]
    list_select_related = ["actor"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RegistryEvent]:
        return events_led_by(request.user)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
