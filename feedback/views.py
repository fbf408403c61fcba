"""The feedback dashboard pages, for the leads of feedback sources.

- ``GET /feedback/``: the sources the user leads, to pick one (all of them for a superuser).
- ``GET /feedback/<slug>/?days=28``: that source's dashboard
  (``feedback.services.dashboard.feedback_dashboard``): events per day, the thumbs-up rate per
  day by model version and the share of events with each signal, drawn as inline SVG by the
  project's one chart module (``annotation.charts``); the per-version rates with their
  intervals and drift marks, and the worst strata, as tables.

Someone who leads no source gets the 403 page, a lead of other sources the 404 page, an
anonymous visitor the login page. The pages have no script (the site's CSP allows none inline).
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation.charts import Chart, bar_chart, line_chart
from annotation.services.errors import ConcordError
from feedback.models import FeedbackSource
from feedback.services.dashboard import SIGNALS, feedback_dashboard
from feedback.services.feedback_access import readable_source, require_feedback_lead

DAY_CHOICES = (7, 14, 28, 90)
SIGNAL_LABELS = {
    "thumb_up": "thumb up",
    "thumb_down": "thumb down",
    "stars": "stars given",
    "corrected": "corrected",
    "reasked": "re-asked",
    "escalated": "escalated",
}


def _refused(refusal: ConcordError) -> Exception:
    """The page's answer to a service's refusal: the styled 404 or 403 page."""
    if refusal.status == 404:
        return Http404(refusal.detail)
    return PermissionDenied(refusal.detail)


@login_required
@require_GET
def source_picker(request: HttpRequest) -> HttpResponse:
    try:
        sources = list(require_feedback_lead(request.user).order_by("name", "slug"))
    except ConcordError as refusal:
        raise _refused(refusal) from None
    return render(request, "feedback/sources.html", {"sources": sources})


def _model_label(model: dict[str, str]) -> str:
    return f"{model['name']} {model['version']}".strip()


def _charts(daily: dict[str, Any]) -> list[tuple[str, Chart]]:
    labels = [day[8:10] + "/" + day[5:7] for day in daily["days"]]
    events = daily["events"]
    rates = {
        _model_label(entry["model"]): [
            up / (up + down) if up + down else None
            for up, down in zip(entry["thumb_up"], entry["thumb_down"], strict=True)
        ]
        for entry in daily["by_model_version"]
    }
    shares = {
        SIGNAL_LABELS[name]: [
            count / total if total else None
            for count, total in zip(daily["by_signal"][name], events, strict=True)
        ]
        for name in SIGNALS
    }
    return [
        (
            "events-chart",
            bar_chart("Events per day", "events", list(zip(labels, events, strict=True))),
        ),
        (
            "thumbs-chart",
            line_chart("Thumbs-up rate per day, by model version", "thumbs up", labels, rates),
        ),
        (
            "signals-chart",
            line_chart("Share of the day's events with each signal", "share", labels, shares),
        ),
    ]


def _signal_totals(daily: dict[str, Any]) -> list[dict[str, Any]]:
    """Per model version, the window's events and each signal's count (a table row)."""
    return [
        {
            "model": _model_label(entry["model"]),
            "counts": [sum(entry[name]) for name in ("events", *SIGNALS)],
        }
        for entry in daily["by_model_version"]
    ]


@login_required
@require_GET
def source_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    days = request.GET.get("days", "")
    days = int(days) if days in {str(choice) for choice in DAY_CHOICES} else 28
    try:
        source: FeedbackSource = readable_source(request.user, slug)
        dashboard = feedback_dashboard(request.user, source, days=days)
    except ConcordError as refusal:
        raise _refused(refusal) from None
    context = {
        "source": source,
        "dashboard": dashboard,
        "charts": _charts(dashboard["daily"]),
        "signal_names": [SIGNAL_LABELS[name] for name in SIGNALS],
        "signal_totals": _signal_totals(dashboard["daily"]),
        "day_choices": DAY_CHOICES,
    }
    return render(request, "feedback/dashboard.html", context)
