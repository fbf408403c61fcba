"""Exports in the admin, for leads.

A staff user who leads at least one sprint (or a superuser) sees the Exports page: the exports
of sprints they lead (all of an export's sprints, as in the API), read-only, with a download
link, and an add page that starts a new export of sprints they lead. The add page goes through
``start_export`` like the API, so it validates, audits and enqueues the same way. The right to
export comes from the lead role in the sprints, not from model permissions: it is the same rule
as the API's. Exports are immutable, so nobody changes or deletes one here.

The add page offers the rendering filters as fields of their own (a ``context`` select and the
two templates as text areas, defaults shown as placeholders); what is set there goes into the
filters, over the same keys of the JSON, and a problem with one is shown on its field.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from annotation.admin.lookups import AllowListedLookups
from annotation.services.access import sprints_led_by
from annotation.services.jobs import queue_warning
from exports.models import DatasetVersion, ExportStatus
from exports.services.access import exports_visible_to
from exports.services.build import EXPORT_JOB, start_export
from exports.services.prompt_rendering import (
    CONTEXT_MODES,
    DEFAULT_CONTEXT_TEMPLATE,
    DEFAULT_DOCUMENT_TEMPLATE,
)
from exports.services.requests import ExportRejected, validate_export_request

RENDERING_FIELDS = ["context", "context_template", "document_template"]
ADD_FIELDS = ["sprints", "kind", "format", "filters", *RENDERING_FIELDS]
FILTERS_HELP = (
    'JSON, e.g. {"test_fraction": 0.1, "min_agreement": 0.4, "form": "conversational"}; '
    "known filters: min_agreement, adjudicated_only, exclude_flagged, include_gold, "
    "test_fraction, seed, form (standard, conversational or grouped: one row per item with "
    "every lower-ranked response in rejected), and the three below"
)


class ExportAddForm(forms.ModelForm):
    """The model's fields, and the rendering filters as fields of their own (empty: the value
    in the JSON filters, or the default)."""

    context = forms.ChoiceField(
        required=False,
        choices=[("", "default (prompt)"), *((mode, mode) for mode in CONTEXT_MODES)],
        help_text="prompt: a preference export's context documents go into the prompt, "
        "numbered with their ids and titles, ahead of the question; none: left out.",
    )
    context_template = forms.CharField(
        required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": DEFAULT_CONTEXT_TEMPLATE}),
        help_text="The block of documents; must contain {documents}. Write a literal brace as "
        "{{ or }}. Empty: the default shown.",
    )  # fmt: skip
    document_template = forms.CharField(
        required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": DEFAULT_DOCUMENT_TEMPLATE}),
        help_text="One document: {number}, {id}, {title}, {text}, {source}. Empty: the default "
        "shown.",
    )  # fmt: skip

    class Meta:
        model = DatasetVersion
        fields = ["sprints", "kind", "format", "filters"]


def _request_data(cleaned: dict) -> dict:
    filters = cleaned.get("filters") or {}
    if isinstance(filters, dict):
        filters = dict(filters)
        for name in RENDERING_FIELDS:
            value = cleaned.get(name)
            if value:  # a text area sends CRLF line ends
                filters[name] = value.replace("\r\n", "\n")
    return {
        "sprints": sorted(sprint.pk for sprint in cleaned.get("sprints") or []),
        "kind": cleaned.get("kind"),
        "format": cleaned.get("format"),
        "filters": filters,
    }


def _form_field(problem_field: str, fields) -> str | None:
    """The form field a problem belongs on: a rendering filter's own field, else the first
    part of its name (``filters.seed`` -> ``filters``); ``None`` when the form has neither."""
    name = problem_field.removeprefix("filters.")
    if name in RENDERING_FIELDS and name in fields:
        return name
    field = problem_field.split(".")[0]
    return field if field in fields else None


def _leads_a_sprint(request: HttpRequest) -> bool:
    user = request.user
    return bool(
        user.is_active and user.is_staff and (user.is_superuser or sprints_led_by(user).exists())
    )


@admin.register(DatasetVersion)
class DatasetVersionAdmin(AllowListedLookups, admin.ModelAdmin):
    form = ExportAddForm
    list_display = ["id", "kind", "format", "status", "rows", "created_by", "created_at", "file"]
    list_filter = ["kind", "format", "status"]
    readonly_fields = [
        "kind", "format", "sprints", "filters", "feedback_sources", "production", "status",
        "rows", "sha256", "manifest", "file_path", "error", "created_by", "created_at",
        "started_at", "finished_at", "file", "workers",
    ]  # fmt: skip

    @admin.display(description="workers")
    def workers(self, obj: DatasetVersion) -> str:
        """ "queued, the workers are unreachable" while the broker refused the build's job."""
        return queue_warning(EXPORT_JOB, obj.pk) or "-"

    def get_queryset(self, request: HttpRequest) -> QuerySet[DatasetVersion]:
        return exports_visible_to(request.user).select_related("created_by")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _leads_a_sprint(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return _leads_a_sprint(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _leads_a_sprint(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj=None):
        return ADD_FIELDS if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [] if obj is None else self.readonly_fields

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "sprints":
            kwargs["queryset"] = sprints_led_by(request.user).order_by("name")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            return form
        user = request.user

        class StartExportForm(form):
            """Checks the request with the same rules as the API, so the admin refuses what
            the API refuses, with the same messages."""

            def clean(self) -> dict:
                cleaned = super().clean()
                try:
                    validate_export_request(user, _request_data(cleaned))
                except ExportRejected as rejected:
                    for problem in rejected.problems:
                        self.add_error(
                            _form_field(problem["field"], self.fields),
                            f"{problem['field']}: {problem['message']}",
                        )
                return cleaned

        filters = StartExportForm.base_fields["filters"]
        filters.help_text = FILTERS_HELP
        filters.required = False
        return StartExportForm

    def save_model(self, request: HttpRequest, obj: DatasetVersion, form, change: bool) -> None:
        if change:
            return
        try:
            dataset = start_export(request.user, _request_data(form.cleaned_data))
        except ExportRejected as rejected:  # the form checked the same rules a moment ago
            raise forms.ValidationError(str(rejected)) from rejected
        # The admin goes on with ``obj`` (its log entry, the redirect): make it the stored row.
        obj.__dict__.update({k: v for k, v in dataset.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = dataset._state.db

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """start_export stored the sprints already."""

    @admin.display(description="file")
    def file(self, obj: DatasetVersion) -> str:
        if obj.status != ExportStatus.DONE:
            return "-"
        url = reverse("api-export-download", args=[obj.pk])
        return format_html('<a href="{}">download</a> ({} rows)', url, obj.rows)


# --- "Export selected sprints" on the sprint list --------------------------------------------
# The action lives here, not in annotation's sprint admin: annotation may not import exports.


@admin.action(description="Export selected sprints…")
def export_sprints(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
    """Open the start-export page with the selected sprints filled in: the lead picks the
    kind, format and filters there, and the page starts it through ``start_export``. Sprints
    the user does not lead are named and left out; none led, and nothing opens."""
    selected = list(queryset.order_by("name"))
    led = set(
        sprints_led_by(request.user)
        .filter(pk__in=[s.pk for s in selected])
        .values_list("pk", flat=True)
    )
    refused = [sprint.name for sprint in selected if sprint.pk not in led]
    if refused:
        modeladmin.message_user(
            request,
            f"Only a sprint's leads export it; left out: {', '.join(refused)}.",
            messages.WARNING,
        )
    if not led:
        return None
    url = reverse("admin:exports_datasetversion_add")
    return HttpResponseRedirect(f"{url}?sprints={','.join(str(pk) for pk in sorted(led))}")


def register_sprint_export_action(site: admin.AdminSite) -> None:
    """Add the action to the sprint admin, for users who may start exports."""
    from annotation.models import Sprint

    sprint_admin = site.get_model_admin(Sprint)
    if export_sprints not in sprint_admin.actions:
        sprint_admin.actions = [*sprint_admin.actions, export_sprints]


register_sprint_export_action(admin.site)
