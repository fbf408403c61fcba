"""The home page: each user's work, by the roles they hold.

- As an annotator: my sprints with my progress and a Label link, and my latest judgments.
- As a reviewer or lead of a sprint: that sprint's pages registered by the apps above
  (its dispute queue with the open count, its dashboard; annotation.services.navigation).
- As a lead (or staff): the tools outside any sprint: exports, models, admin, API docs.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation.services.access import sprints_visible_to
from annotation.services.navigation import roles_by_sprint, sprint_links, tool_links
from annotation.services.progress import progress_for, recent_judgments


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """My sprints with my progress and every page of each I may open, my latest live
    judgments to revise, and the tools my role gives me."""
    sprints = list(
        sprints_visible_to(request.user).select_related("rubric").order_by("-created_at")
    )
    roles = roles_by_sprint(request.user, sprints)
    links = sprint_links(request.user, sprints)
    rows = [
        {"progress": row, "role": roles.get(row.sprint.pk), "links": links[row.sprint.pk]}
        for row in progress_for(request.user, sprints)
    ]
    return render(
        request,
        "annotation/home.html",
        {
            "rows": rows,
            "judgments": recent_judgments(request.user),
            "tools": tool_links(request.user),
        },
    )
