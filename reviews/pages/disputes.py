"""The reviewer's dispute queue: the open disputes of a sprint, and one dispute with the item,
every judgment unblinded, each annotator's track record and the adjudication form.

- ``GET /reviews/sprints/<id>/disputes``: the sprint's open disputes, oldest first;
  ``?reason=<code>`` keeps only one reason (links with counts per reason on the page), and the
  filter follows the reviewer through the disputes and back.
- ``GET /reviews/disputes/<id>``: one dispute. ``POST`` with ``action=resolve`` (``rank_1`` ..
  ``rank_N`` the response ids best first, or ``tie``; ``rationale``) settles it through
  :func:`reviews.services.disputes.resolve_dispute` and goes on to the sprint's next open
  dispute under the same filter (the queue when none is left); ``action=void`` with ``reason``
  voids it. A rejected form is shown again with the errors (400) and nothing stored.

Reviewers and leads of the sprint (and superusers) only: an annotator gets 403, a non-member
404, an anonymous visitor the login page. Item text is rendered as safe Markdown
(annotation.services.rendering). The pages' only script is our own static file of keyboard
shortcuts (reviews/static/reviews/dispute-keys.js; the forms work without it), under a
Content-Security-Policy of script-src 'self'.
"""

from collections import Counter
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods

from annotation.models import Sprint, SprintRole
from annotation.services.access import role_at_least, sprint_role
from annotation.services.rendering import item_panel
from annotation.services.serving import seen_legend
from reviews.models import Dispute, DisputeReason, DisputeStatus
from reviews.services.dispute_details import dispute_details
from reviews.services.disputes import DisputeRejected, resolve_dispute, void_dispute

QUEUE_SIZE = 200
REASON_LABELS = dict(DisputeReason.choices)


def _require_reviewer(request: HttpRequest, sprint: Sprint) -> None:
    role = sprint_role(request.user, sprint)
    if role is None:
        raise Http404("No such sprint.")
    if not role_at_least(role, SprintRole.REVIEWER):
        raise PermissionDenied("The dispute queue is for the sprint's reviewers and leads.")


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _reason_filter(request: HttpRequest) -> str:
    """The queue's reason filter from ``?reason=``: one of DisputeReason's codes, or "" for all.
    Anything else is ignored (the page then lists every reason), never passed to a query."""
    reason = request.GET.get("reason", "")
    return reason if reason in REASON_LABELS else ""


def _open_ids(sprint_id: int, reason: str) -> tuple[list[int], Counter, int]:
    """The sprint's open disputes with ``reason`` (all when ""), oldest first, how many open
    disputes carry each reason, and how many are open in all. Filtered here rather than in
    SQL: SQLite, the embedded default, has no JSON containment lookup, and a sprint's open
    disputes are a short list."""
    ids, counts, total = [], Counter(), 0
    for pk, reasons in (
        Dispute.objects.filter(sprint_id=sprint_id, status=DisputeStatus.OPEN)
        .order_by("opened_at", "id")
        .values_list("id", "reasons")
    ):
        total += 1
        counts.update(reasons)
        if not reason or reason in reasons:
            ids.append(pk)
    return ids, counts, total


def _queue_url(sprint_id: int, reason: str) -> str:
    url = reverse("dispute-queue", args=[sprint_id])
    return f"{url}?{urlencode({'reason': reason})}" if reason else url


def _detail_url(dispute_id: int, reason: str) -> str:
    url = reverse("dispute-detail", args=[dispute_id])
    return f"{url}?{urlencode({'reason': reason})}" if reason else url


@login_required
@require_GET
def dispute_queue(request: HttpRequest, sprint_id: int) -> HttpResponse:
    sprint = get_object_or_404(Sprint, pk=sprint_id)
    _require_reviewer(request, sprint)
    reason = _reason_filter(request)
    ids, counts, open_total = _open_ids(sprint.pk, reason)
    shown = Dispute.objects.select_related("item").in_bulk(ids[:QUEUE_SIZE])
    rows = [
        {
            "dispute": shown[pk],
            "url": _detail_url(pk, reason),
            "reasons": [REASON_LABELS.get(code, code) for code in shown[pk].reasons],
        }
        for pk in ids[:QUEUE_SIZE]
    ]
    context = {
        "sprint": sprint,
        "rows": rows,
        "total": len(ids),
        "reason": reason,
        "reason_label": REASON_LABELS.get(reason, ""),
        "all_url": _queue_url(sprint.pk, ""),
        "all_count": open_total,
        "filters": [
            {
                "code": code,
                "label": label,
                "count": counts.get(code, 0),
                "url": _queue_url(sprint.pk, code),
            }
            for code, label in REASON_LABELS.items()
        ],
    }
    return _page(request, "reviews/dispute_queue.html", context)


def _as_seen(key: object, seen: dict[str, int]) -> str:
    """A stored response id with the name its annotator saw it under: "a (their Response 2)"."""
    number = seen.get(str(key))
    return f"{key} (their Response {number})" if number else str(key)


def _preference(answers: dict, name: str | None, seen: dict[str, int]) -> str:
    value = answers.get(name) if name else None
    if not isinstance(value, dict):
        return "no answer"
    if value.get("tie") is True:
        return "tie"
    text = " > ".join(_as_seen(key, seen) for key in value.get("ranking") or [])
    return f"{text} (strength {value['strength']})" if value.get("strength") else text


def _other_answers(answers: dict, name: str | None, seen: dict[str, int]) -> list[tuple[str, str]]:
    shown = []
    for criterion, value in answers.items():
        if criterion == name:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{_as_seen(key, seen)}: {answer}" for key, answer in value.items())
        shown.append((criterion, str(value)))
    return shown


def _detail_context(dispute: Dispute, reason: str, form: dict | None = None, errors=None) -> dict:
    sprint = dispute.sprint
    following = _next_open(dispute, reason)
    details = dispute_details([dispute])[0]
    preference = sprint.rubric.preference_criterion()
    name = preference.name if preference else None
    keys = [response["id"] for response in details["item"]["responses"]]
    panel = item_panel(details["item"], 0, [], mode="review")
    for judgment in details["judgments"]:
        seen = judgment["seen_as"]
        judgment["preference"] = _preference(judgment["answers"], name, seen)
        judgment["others"] = _other_answers(judgment["answers"], name, seen)
        judgment["legend"] = seen_legend(seen)
    form = form or {}
    chosen = form.get("ranking") or (details["consensus"] or {}).get("ranking") or keys
    return {
        "sprint": sprint,
        "dispute": dispute,
        "details": details,
        "reasons": [REASON_LABELS.get(reason, reason) for reason in dispute.reasons],
        "turns": panel["turns"],
        "documents": panel["documents"],
        "responses": panel["responses"],
        "places": [
            {"number": place, "field": f"rank_{place}", "chosen": chosen[place - 1]}
            for place in range(1, len(keys) + 1)
        ],
        "keys": keys,
        "allow_tie": bool(preference and (preference.config or {}).get("allow_tie")),
        "form": form,
        "errors": errors or [],
        "reason_label": REASON_LABELS.get(reason, ""),
        "queue_url": _queue_url(sprint.pk, reason),
        "next_url": _detail_url(following, reason) if following else "",
    }


def _next_open(dispute: Dispute, reason: str) -> int | None:
    """The oldest other open dispute of the sprint under the queue's reason filter."""
    ids = _open_ids(dispute.sprint_id, reason)[0]
    return next((pk for pk in ids if pk != dispute.pk), None)


def _settle(request: HttpRequest, dispute: Dispute) -> HttpResponse:
    action = request.POST.get("action")
    places = range(1, dispute.item.responses.count() + 1)
    form = {
        "ranking": [request.POST.get(f"rank_{place}", "") for place in places],
        "rationale": request.POST.get("rationale", ""),
        "reason": request.POST.get("reason", ""),
        "tie": request.POST.get("tie") == "on",
    }
    try:
        if action == "resolve":
            resolve_dispute(
                dispute,
                request.user,
                [] if form["tie"] else form["ranking"],
                form["rationale"],
                tie=form["tie"],
            )
        elif action == "void":
            void_dispute(dispute, request.user, form["reason"])
        else:
            raise DisputeRejected([{"field": "action", "message": "resolve or void"}])
    except DisputeRejected as rejected:
        dispute.refresh_from_db()
        context = _detail_context(dispute, _reason_filter(request), form, rejected.problems)
        return _page(request, "reviews/dispute_detail.html", context, status=rejected.status)
    reason = _reason_filter(request)
    following = _next_open(dispute, reason)
    if following is None:
        return redirect(_queue_url(dispute.sprint_id, reason))
    return redirect(_detail_url(following, reason))


@login_required
@require_http_methods(["GET", "POST"])
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = get_object_or_404(
        Dispute.objects.select_related("sprint__rubric", "item", "resolved_by"), pk=dispute_id
    )
    _require_reviewer(request, dispute.sprint)
    if request.method == "POST":
        return _settle(request, dispute)
    context = _detail_context(dispute, _reason_filter(request))
    return _page(request, "reviews/dispute_detail.html", context)


urlpatterns = [
    path("sprints/<int:sprint_id>/disputes", dispute_queue, name="dispute-queue"),
    path("disputes/<int:dispute_id>", dispute_detail, name="dispute-detail"),
]
