"""Admin for leads: training runs (start, watch, cancel) and the model registry (promote,
archive, compare).

Rows are scoped like the API: a lead sees the runs and versions of datasets whose every sprint
they lead (:mod:`training.services.datasets`). Who may open these pages is decided here too,
not by model permissions: any staff user who leads a sprint may start and manage training for
the datasets they lead, so no group needs extra permissions. Nothing is edited in place: runs
start through :func:`training.services.runs.start_training_run` on the "Start a training run"
page, and stages change through :func:`training.services.registry.promote_model_version`.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from annotation.admin.lookups import AllowListedLookups
from annotation.services.errors import ConcordError
from annotation.services.jobs import queue_warning
from training.admin_policy_runs import LedDatasetForm, RunStartPages
from training.models import ModelStage, ModelVersion, RunKind, TrainingRun
from training.services.datasets import leads_any_sprint
from training.services.registry import models_led_by, promote_model_version, runs_led_by
from training.services.run_options import INT_OPTIONS, train_option_defaults
from training.services.runs import (
    TRAINING_JOB,
    RunFinished,
    cancel_training_run,
)


class LeadTrainingAdmin(AllowListedLookups, admin.ModelAdmin):
    """Open to superusers and to staff who lead at least one sprint; read-only fields."""

    def _is_lead(self, request: HttpRequest) -> bool:
        user = request.user
        return user.is_active and user.is_staff and leads_any_sprint(user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_lead(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._is_lead(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Change opens the actions (cancel, promote); every field stays read-only.
        return self._is_lead(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in self.model._meta.get_fields() if f.concrete] + list(
            self.readonly_fields
        )

    def form_page(self, request: HttpRequest, title: str, form: forms.Form) -> TemplateResponse:
        """A start page (``admin/training/<model>/start.html``) showing ``form``."""
        context = {**self.admin_site.each_context(request), "title": title, "opts": self.opts,
                   "form": form}  # fmt: skip
        template = f"admin/training/{self.opts.model_name}/start.html"
        return TemplateResponse(request, template, context)


def progress_html(title: str, fraction: float) -> str:
    """A progress cell: the percentage, with ``title`` (what it counts) on hover."""
    return format_html('<span title="{}">{}%</span>', title, f"{100 * fraction:.0f}")


class StartRunForm(LedDatasetForm):
    base_model = forms.CharField(
        required=False,
        max_length=500,
        help_text="model:<id> of a version you lead, or a name or path under the configured "
        "base model roots; empty: the packaged all-MiniLM-L6-v2.",
    )
    name = forms.CharField(
        required=False, max_length=100, help_text="Registry name; empty: reward-<sprint slugs>."
    )
    epochs = forms.IntegerField(min_value=1, max_value=INT_OPTIONS["epochs"][1])
    batch_size = forms.IntegerField(min_value=1, max_value=INT_OPTIONS["batch_size"][1])
    learning_rate = forms.FloatField(min_value=1e-8, max_value=1.0)
    max_length = forms.IntegerField(min_value=8, max_value=INT_OPTIONS["max_length"][1])
    seed = forms.IntegerField(min_value=0, max_value=INT_OPTIONS["seed"][1])
    use_margin = forms.BooleanField(required=False, help_text="Use the pairs' margins in the loss.")


@admin.register(TrainingRun)
class TrainingRunAdmin(RunStartPages, LeadTrainingAdmin):
    list_display = [
        "id",
        "kind",
        "model_name",
        "dataset",
        "status",
        "progress_column",
        "accuracy_column",
        "device",
        "world_size",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "kind"]
    list_select_related = ["dataset", "created_by"]
    search_fields = ["model_name", "base_model"]
    actions = ["cancel_runs"]
    readonly_fields = ["workers"]

    @admin.display(description="workers")
    def workers(self, run: TrainingRun) -> str:
        """"queued, the workers are unreachable" while the broker refused the run's job."""
        return queue_warning(TRAINING_JOB, run.pk) or "-"

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrainingRun]:
        return runs_led_by(request.user)

    @admin.display(description="progress")
    def progress_column(self, run: TrainingRun) -> str:
        return progress_html(f"step {run.current_step} of {run.total_steps}", run.progress)

    @admin.display(description="held-out accuracy")
    def accuracy_column(self, run: TrainingRun) -> str:
        evals = (run.metrics or {}).get("eval") or []
        return f"{evals[-1]['accuracy']:.3f}" if evals else "-"

    @admin.action(description="Cancel the selected runs", permissions=["change"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        cancelled = 0
        for run in queryset:
            try:
                cancel_training_run(run, actor=request.user)
                cancelled += 1
            except RunFinished as finished:
                self.message_user(request, str(finished), messages.WARNING)
        if cancelled:
            self.message_user(request, f"Asked {cancelled} run(s) to stop.", messages.SUCCESS)

    def get_urls(self):
        view = self.admin_site.admin_view(self.start_view)
        dpo = self.admin_site.admin_view(self.start_dpo_view)
        return [
            path("start/", view, name="training_trainingrun_start"),
            path("start-dpo/", dpo, name="training_trainingrun_start_dpo"),
            *super().get_urls(),
        ]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        return self.start_run_page(
            request,
            StartRunForm,
            title="Start a training run",
            kind=RunKind.REWARD,
            defaults=train_option_defaults(),
        )


@admin.register(ModelVersion)
class ModelVersionAdmin(LeadTrainingAdmin):
    list_display = [
        "__str__",
        "name",
        "version",
        "stage",
        "accuracy_column",
        "rendering_column",
        "run",
        "promoted_by",
        "promoted_at",
        "created_at",
    ]
    list_filter = ["stage", "name"]
    list_select_related = ["run", "promoted_by"]
    search_fields = ["name"]
    actions = ["promote_to_production", "archive"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        return models_led_by(request.user)

    @admin.display(description="held-out accuracy")
    def accuracy_column(self, model: ModelVersion) -> str:
        accuracy = (model.metrics or {}).get("final_accuracy")
        return f"{accuracy:.3f}" if isinstance(accuracy, int | float) else "-"

    @admin.display(description="rendering")
    def rendering_column(self, model: ModelVersion) -> str:
        """The form, where context documents go, and whether a chat template applies (the
        change page shows the whole record, templates included)."""
        rendering = model.rendering or {}
        if not rendering:
            return "-"
        context = "context in prompt" if rendering.get("context") == "prompt" else "no context"
        chat = ", chat template" if rendering.get("chat_template") else ""
        return f"{rendering.get('form', 'standard')}, {context}{chat}"

    @admin.action(description="Promote the selected version to production", permissions=["change"])
    def promote_to_production(self, request: HttpRequest, queryset: QuerySet[ModelVersion]):
        names = list(queryset.values_list("name", flat=True))
        if len(names) != len(set(names)):
            self.message_user(
                request, "Select at most one version of each name to promote.", messages.WARNING
            )
            return
        promoted = 0
        for model in queryset:
            try:
                promote_model_version(model, ModelStage.PRODUCTION, actor=request.user)
            except ConcordError as refused:
                self.message_user(request, f"{model}: {refused.detail}", messages.ERROR)
            else:
                promoted += 1
        self.message_user(request, f"Promoted {promoted} version(s).", messages.SUCCESS)

    @admin.action(description="Archive the selected versions", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for model in queryset:
            promote_model_version(model, ModelStage.ARCHIVED, actor=request.user)
        self.message_user(request, f"Archived {queryset.count()} version(s).", messages.SUCCESS)


# Active selections, policies, their evaluations and the registries' stage events have their
# own modules (registered on import).
from training import admin_evaluations, admin_policies, admin_selection  # noqa: E402, F401
