"""Admin for leads: active selections (start one, watch its progress, read its result).

A selection starts on the "Select the next sprint" page through
:func:`training.services.selection_jobs.start_selection` (the same door as the API: the lead of
the source sprint, a production model) and a worker builds it; its page is read-only and shows
the items scored, the new sprint or the reason it failed, and "queued, the workers are
unreachable" while the broker refused its job. Rows are those of sprints the user leads.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from annotation.models import Sprint
from annotation.services.access import sprints_led_by
from annotation.services.errors import ConcordError
from annotation.services.jobs import queue_warning
from training.admin import LeadTrainingAdmin, progress_html
from training.models import ModelStage, ModelVersion, RunStatus, SelectionRun
from training.services.registry import models_led_by
from training.services.selection_jobs import SELECTION_JOB, start_selection


class StartSelectionForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=Sprint.objects.none(), help_text="The sprint whose unlabeled items to draw."
    )
    model = forms.ModelChoiceField(
        queryset=ModelVersion.objects.none(), help_text="A production reward model you lead."
    )
    size = forms.IntegerField(min_value=1, max_value=100_000, help_text="Items to select.")
    random_share = forms.FloatField(min_value=0, max_value=1, initial=0.2)
    seed = forms.IntegerField(min_value=0, max_value=2**32 - 1, initial=0)
    name = forms.CharField(required=False, max_length=200, help_text="Empty: '<source> (next)'.")
    slug = forms.SlugField(required=False, max_length=100, help_text="Empty: <source>-next-<n>.")

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = sprints_led_by(user).order_by("name")
        self.fields["model"].queryset = models_led_by(user).filter(stage=ModelStage.PRODUCTION)


@admin.register(SelectionRun)
class SelectionRunAdmin(LeadTrainingAdmin):
    list_display = [
        "id",
        "source",
        "model",
        "status",
        "progress_column",
        "new_sprint",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["source", "model"]
    readonly_fields = ["progress_column", "new_sprint", "workers"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SelectionRun]:
        return SelectionRun.objects.filter(source__in=sprints_led_by(request.user))

    @admin.display(description="progress")
    def progress_column(self, selection: SelectionRun) -> str:
        return progress_html(
            f"{selection.scored} of {selection.total} items scored", selection.progress
        )

    @admin.display(description="new sprint")
    def new_sprint(self, selection: SelectionRun) -> str:
        result = selection.result or {}
        if "sprint" not in result:
            return "-"
        url = reverse("admin:annotation_sprint_change", args=[result["sprint"]])
        return format_html('<a href="{}">{}</a>', url, result["slug"])

    @admin.display(description="workers")
    def workers(self, selection: SelectionRun) -> str:
        """ "queued, the workers are unreachable" while the broker refused the job."""
        if selection.status != RunStatus.QUEUED:
            return "-"
        return queue_warning(SELECTION_JOB, selection.pk) or "-"

    def get_urls(self):
        view = self.admin_site.admin_view(self.start_view)
        return [path("start/", view, name="training_selectionrun_start"), *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        if not self._is_lead(request):
            raise PermissionDenied
        form = StartSelectionForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            values = dict(form.cleaned_data)
            source, model = values.pop("source"), values.pop("model")
            try:
                selection = start_selection(source, model, actor=request.user, **values)
            except ConcordError as refused:
                for problem in refused.problems:
                    field = problem.get("field")
                    form.add_error(field if field in form.fields else None, problem["message"])
            else:
                self.message_user(request, f"Selection {selection.pk} is queued.", messages.SUCCESS)
                return redirect(reverse("admin:training_selectionrun_change", args=[selection.pk]))
        return self.form_page(request, "Select the next sprint", form)
