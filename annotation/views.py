from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.services.access import sprints_visible_to


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in user's sprints; the labeling page arrives with the labeling issue."""
    sprints = sprints_visible_to(request.user).select_related("rubric").order_by("-created_at")
    return render(request, "annotation/home.html", {"sprints": sprints})
