"""The sprint's model leaderboard page: ratings with their 95 % intervals drawn as a chart, the
table and the pairwise win-rate matrix.

``GET /reviews/sprints/<id>/leaderboard[?source=judgments]``. Reviewers, leads and superusers
(the API's rule: an annotator, who must judge blind, gets 403; a non-member 404; an anonymous
visitor the login page). Drawn on the server as inline SVG (annotation.charts); no script.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_GET

from annotation.charts import interval_chart
from annotation.models import Sprint, SprintRole
from annotation.services.access import role_at_least, sprint_role
from reviews.services.leaderboard import DEFAULT_BOOTSTRAP, SOURCES, leaderboard


@login_required
@require_GET
def sprint_leaderboard(request: HttpRequest, sprint_id: int) -> HttpResponse:
    sprint = get_object_or_404(Sprint, pk=sprint_id)
    role = sprint_role(request.user, sprint)
    if role is None:
        raise Http404("No such sprint.")
    if not role_at_least(role, SprintRole.REVIEWER):
        raise PermissionDenied("The model leaderboard is for the sprint's reviewers and leads.")
    source = request.GET.get("source")
    source = source if source in SOURCES else SOURCES[0]
    report = leaderboard([sprint], source=source, bootstrap=DEFAULT_BOOTSTRAP)
    chart = interval_chart(
        "Rating and 95% interval per model",
        "rating (Elo scale)",
        [(m["model"], m["rating"], m["ci"][0], m["ci"][1]) for m in report["models"]],
    )
    matrix = report["win_rates"]
    rows = [
        {"model": name, "cells": list(zip(rates, counts, strict=True))}
        for name, rates, counts in zip(
            matrix["models"], matrix["rates"], matrix["comparisons"], strict=True
        )
    ]
    context = {
        "sprint": sprint,
        "report": report,
        "chart": chart,
        "matrix_rows": rows,
        "sources": SOURCES,
        "source": source,
    }
    return render(request, "reviews/leaderboard.html", context)


urlpatterns = [
    path("sprints/<int:sprint_id>/leaderboard", sprint_leaderboard, name="sprint-leaderboard"),
]
