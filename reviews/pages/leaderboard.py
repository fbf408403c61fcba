"""The sprint's model leaderboard page: ratings with their 95 % intervals drawn as one chart per
component (models that never met, even indirectly, are not on one scale), the table ranked
within each component, and the pairwise win-rate matrix.

``GET /reviews/sprints/<id>/leaderboard[?source=judgments]``. The sprint's leads and
superusers (the API's rule, :mod:`reviews.services.leaderboard_access`: reviewers and
annotators, who label and must judge blind, get 403; a non-member 404; an anonymous visitor the
login page). Drawn on the server as inline SVG (annotation.charts); no script.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from annotation.charts import interval_chart
from reviews.services.leaderboard import DEFAULT_BOOTSTRAP, SOURCES, leaderboard
from reviews.services.leaderboard_access import leaderboard_sprints


@login_required
@require_GET
def sprint_leaderboard(request: HttpRequest, sprint_id: int) -> HttpResponse:
    (sprint,) = leaderboard_sprints(request.user, [sprint_id])
    source = request.GET.get("source")
    source = source if source in SOURCES else SOURCES[0]
    report = leaderboard([sprint], source=source, bootstrap=DEFAULT_BOOTSTRAP)
    groups = {}
    for entry in report["models"]:
        groups.setdefault(entry["component"], []).append(entry)
    several = len(groups) > 1
    charts = [
        {
            "component": number,
            "id": f"rating-chart-{number}",
            "chart": interval_chart(
                f"Group {number}: rating and 95% interval per model ({len(entries)} models)"
                if several
                else "Rating and 95% interval per model",
                "rating (Elo scale, mean 1000" + (" within the group)" if several else ")"),
                [(m["model"], m["rating"], m["ci"][0], m["ci"][1]) for m in entries],
            ),
        }
        for number, entries in groups.items()
    ]
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
        "charts": charts,
        "matrix_rows": rows,
        "sources": SOURCES,
        "source": source,
    }
    return render(request, "reviews/leaderboard.html", context)


urlpatterns = [
    path("sprints/<int:sprint_id>/leaderboard", sprint_leaderboard, name="sprint-leaderboard"),
]
