"""Template context for the navigation bar of every page that extends ``base.html``.

``nav_tools`` are the pages outside any sprint the user may open; ``nav_sprint`` and
``nav_sprint_links`` are, on a page of one sprint (its URL has ``sprint_id``), that sprint and
its pages this user may open. Both are lazy: a page that does not show them runs no query.
"""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from annotation.services.navigation import current_sprint_links, tool_links


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    sprint_id = match.kwargs.get("sprint_id") if match is not None else None

    def sprint_bar() -> tuple:
        if not isinstance(sprint_id, int):
            return (None, [])
        return current_sprint_links(user, sprint_id)

    bar = SimpleLazyObject(sprint_bar)
    return {
        "nav_tools": SimpleLazyObject(lambda: tool_links(user)),
        "nav_sprint_bar": bar,
    }
