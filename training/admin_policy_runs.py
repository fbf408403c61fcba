"""The admin's start pages of training runs: "Start a training run" (a reward model) and "Start a
policy (DPO) run", each a small form that goes through
:func:`training.services.runs.start_training_run` like the API, its refusals shown on the
fields they name. Mixed into the TrainingRun admin (training/admin.py)."""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from annotation.services.errors import ConcordError
from exports.models import DatasetVersion, ExportKind, ExportStatus
from training.models import RunKind
from training.services.datasets import TRAINABLE_FORMATS, datasets_led_by
from training.services.policy_config import LOSS_TYPES
from training.services.policy_options import (
    POLICY_FLOAT_OPTIONS,
    POLICY_INT_OPTIONS,
    policy_option_defaults,
)
from training.services.runs import start_training_run


class LedDatasetForm(forms.Form):
    """A start form whose dataset is one of the finished preference exports ``user`` leads."""

    dataset = forms.ModelChoiceField(
        queryset=DatasetVersion.objects.none(),
        help_text="Finished preference exports (JSONL or Parquet) of sprints you lead.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = datasets_led_by(user).filter(
            kind=ExportKind.PREFERENCE, status=ExportStatus.DONE, format__in=TRAINABLE_FORMATS
        )


def _int(name: str) -> forms.IntegerField:
    low, high = POLICY_INT_OPTIONS[name]
    return forms.IntegerField(min_value=low, max_value=high)


class StartPolicyRunForm(LedDatasetForm):
    """The main options of a dpo run; the others keep their defaults (the API sets them all)."""

    base_model = forms.CharField(
        max_length=500,
        help_text="policy:<id> of a policy you lead, or a name or path under the configured "
        "base model roots.",
    )
    name = forms.CharField(
        required=False, max_length=100, help_text="Registry name; empty: policy-<sprint slugs>."
    )
    epochs = _int("epochs")
    batch_size = _int("batch_size")
    learning_rate = forms.FloatField(
        min_value=POLICY_FLOAT_OPTIONS["learning_rate"][0],
        max_value=POLICY_FLOAT_OPTIONS["learning_rate"][1],
    )
    beta = forms.FloatField(help_text="Above 0, at most 10: how far the policy may move.")
    loss_type = forms.ChoiceField(choices=[(loss, loss) for loss in LOSS_TYPES])
    max_length = _int("max_length")
    seed = _int("seed")
    lora = forms.BooleanField(required=False, help_text="Train a LoRA adapter (peft).")
    lora_r = _int("lora_r")
    merge_adapter = forms.BooleanField(
        required=False, help_text="With LoRA: save the merged model instead of the adapter."
    )


class RunStartPages:
    """The start pages of the TrainingRun admin (a ModelAdmin with ``_is_lead`` and
    ``form_page``)."""

    def start_run_page(
        self,
        request: HttpRequest,
        form_class: type[LedDatasetForm],
        *,
        title: str,
        kind: str,
        defaults: dict[str, Any],
    ) -> HttpResponse:
        """Show ``form_class``; on a valid POST start a ``kind`` run and open its page, or show
        the service's refusals on the fields they name (nothing stored)."""
        if not self._is_lead(request):
            raise PermissionDenied
        if request.method != "POST":
            initial = {key: defaults[key] for key in form_class.base_fields if key in defaults}
            return self.form_page(request, title, form_class(user=request.user, initial=initial))
        form = form_class(request.POST, user=request.user)
        if form.is_valid():
            values = dict(form.cleaned_data)
            dataset = values.pop("dataset")
            base_model, name = values.pop("base_model"), values.pop("name") or None
            try:
                run = start_training_run(
                    dataset,
                    actor=request.user,
                    base_model=base_model,
                    name=name,
                    options=values,
                    kind=kind,
                )
            except ConcordError as refused:  # a bad option, an unusable dataset
                for error in refused.problems:
                    field = error.get("field") if error.get("field") in form.fields else None
                    form.add_error(field, error["message"])
            else:
                self.message_user(request, f"Training run {run.pk} is queued.", messages.SUCCESS)
                return redirect(reverse("admin:training_trainingrun_change", args=[run.pk]))
        return self.form_page(request, title, form)

    def start_dpo_view(self, request: HttpRequest) -> HttpResponse:
        return self.start_run_page(
            request,
            StartPolicyRunForm,
            title="Start a policy (DPO) run",
            kind=RunKind.DPO,
            defaults=policy_option_defaults(),
        )
