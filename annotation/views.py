"""The annotator's pages: the labeling page, its item panel, revising (the home page, my
sprints and judgments, is annotation.home).

Pages render on the server; label.js only swaps the item panel and talks to the JSON API
(``/api/v1/judgments``, ``/api/v1/assignments/<id>/skip`` and ``.../flag``), so there is one
door for answers.
Anything an annotator may not see answers 404, as the API does: a 403 would confirm that a
sprint or judgment exists.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from annotation.models import Assignment, Judgment, Sprint
from annotation.services.access import sprint_role
from annotation.services.labeling_rubrics import labeling_rubric
from annotation.services.progress import queue_progress
from annotation.services.queue import NotAMember, QueueClosed, next_assignment
from annotation.services.rendering import item_panel, render_markdown
from annotation.services.serving import served_item


def _member_sprint(request: HttpRequest, sprint_id: int) -> Sprint:
    sprint = get_object_or_404(Sprint.objects.select_related("rubric"), pk=sprint_id)
    if sprint_role(request.user, sprint) is None:
        raise Http404("No such sprint.")
    return sprint


def _panel_context(assignment: Assignment, sprint: Sprint, **kwargs) -> dict:
    criteria = list(labeling_rubric(sprint.rubric).criteria)
    return item_panel(served_item(assignment), assignment.pk, criteria, **kwargs)


def _next_panel(request: HttpRequest, sprint: Sprint) -> dict:
    """The panel's context. The queue checks membership under its lock, so a member costs no
    role lookup; without a membership row, a superuser (who sees every sprint but has a queue
    only where they are a member) is told so, and anyone else gets 404."""
    try:
        assignment = next_assignment(sprint, request.user)
    except NotAMember:
        if sprint_role(request.user, sprint) is None:
            raise Http404("No such sprint.") from None
        return {"state": "no-queue", "sprint": sprint}
    except QueueClosed:
        return {"state": "closed", "sprint": sprint}
    # Two indexed counts for the page's "n left for me · n done today", fresh after each submit.
    progress = queue_progress(request.user, sprint, queue_empty=assignment is None)
    if assignment is None:
        return {"state": "done", "sprint": sprint, "progress": progress}
    return {
        "state": "item",
        "sprint": sprint,
        "progress": progress,
        **_panel_context(assignment, assignment.sprint),
    }


@login_required
@require_GET
def label(request: HttpRequest, sprint_id: int) -> HttpResponse:
    """The labeling page, with the first panel rendered in, so it works at first paint."""
    sprint = _member_sprint(request, sprint_id)
    context = _next_panel(request, sprint)
    context["guidelines_html"] = render_markdown(sprint.rubric.guidelines)
    return render(request, "annotation/label.html", context)


@login_required
@require_GET
def label_panel(request: HttpRequest, sprint_id: int) -> HttpResponse:
    """The next item panel as an HTML fragment for label.js: always 200, the fragment's
    ``data-state`` says ``item``, ``done`` (queue empty), ``closed`` (sprint not active) or
    ``no-queue`` (a superuser who is no member)."""
    sprint = get_object_or_404(Sprint, pk=sprint_id)
    response = render(request, "annotation/_panel.html", _next_panel(request, sprint))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def revise(request: HttpRequest, judgment_id: int) -> HttpResponse:
    """One of my judgments in the item panel, prefilled with the live answers of its item;
    submitting stores a revision through the API. Anyone else's judgment is 404."""
    judgment = get_object_or_404(
        Judgment.objects.select_related("assignment__item", "sprint__rubric"),
        pk=judgment_id,
        annotator=request.user,
    )
    sprint = _member_sprint(request, judgment.sprint_id)
    # The link may be to a judgment revised since: show the answers that count now.
    live = (
        Judgment.objects.filter(assignment_id=judgment.assignment_id, superseded_by__isnull=True)
        .order_by("-created_at", "-id")
        .first()
        or judgment
    )
    context = {
        "state": "item",
        "sprint": sprint,
        "judgment": live,
        "guidelines_html": render_markdown(sprint.rubric.guidelines),
        **_panel_context(judgment.assignment, sprint, answers=live.answers, mode="revise"),
    }
    return render(request, "annotation/revise.html", context)
