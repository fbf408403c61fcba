"""The lead's sprint dashboard: progress, throughput, agreement per criterion over time, the
per-annotator quality table with outliers marked, and open disputes.

``GET /reviews/sprints/<id>/dashboard``. Leads of the sprint and superusers only: a member with
a lower role (annotator, reviewer) gets 403, a non-member 404, an anonymous visitor the login
page. Charts are inline SVG drawn on the server (annotation.charts); the page has
no script, and its Content-Security-Policy says so.

Alpha over time is the report as the sprint stood at ``CUTOFFS`` evenly spaced moments between
its first and last judgment (bootstrap 0, so each point is one query and a few array sums); the
current report carries a bootstrap interval of ``BOOTSTRAP`` resamples.
"""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncDay, TruncHour
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_GET

from annotation.charts import bar_chart, line_chart
from annotation.models import Item, Judgment, Sprint, SprintRole
from annotation.services.access import role_at_least, sprint_role
from reviews.models import Dispute, DisputeStatus
from reviews.services.agreement import sprint_agreement
from reviews.services.agreement_rows import live_judgments

CUTOFFS = 6
BOOTSTRAP = 200


def _progress(sprint: Sprint) -> dict:
    items = Item.objects.filter(sprint=sprint).count()
    per_item = (
        live_judgments(sprint).order_by().values("item_id").annotate(n=Count("id")).values("n")
    )
    judged = complete = 0
    for row in per_item:
        judged += 1
        complete += row["n"] >= sprint.overlap_k
    judgments = live_judgments(sprint).count()
    needed = items * sprint.overlap_k
    return {
        "items": items,
        "judged_items": judged,
        "complete_items": complete,
        "judgments": judgments,
        "needed": needed,
        "percent": round(100 * min(judgments, needed) / needed, 1) if needed else 0.0,
    }


def _throughput(sprint: Sprint, first, last):
    """Judgments made (revisions included) per day, or per hour when the sprint is young."""
    hourly = last - first < timedelta(days=2)
    bucket = TruncHour("created_at") if hourly else TruncDay("created_at")
    rows = (
        Judgment.objects.filter(sprint=sprint)
        .annotate(bucket=bucket)
        .order_by("bucket")
        .values("bucket")
        .annotate(n=Count("id"))
    )
    label = "%d %b %H:00" if hourly else "%d %b"
    return bar_chart(
        "Throughput",
        "judgments per hour" if hourly else "judgments per day",
        [(row["bucket"].strftime(label), row["n"]) for row in rows],
    )


def _alpha_over_time(sprint: Sprint, first, last, criteria: list[str]):
    moments = [first + (last - first) * (i + 1) / CUTOFFS for i in range(CUTOFFS)]
    series: dict[str, list[float | None]] = {name: [] for name in criteria}
    for moment in moments:
        report = sprint_agreement(sprint, bootstrap=0, until=moment)
        for name in criteria:
            series[name].append(report["criteria"].get(name, {}).get("alpha"))
    span = last - first
    label = "%H:%M:%S" if span < timedelta(hours=1) else "%d %b %H:%M"
    labels = [moment.strftime(label if span < timedelta(days=3) else "%d %b") for moment in moments]
    return line_chart("Krippendorff's alpha as the sprint filled", "alpha", labels, series)


@login_required
@require_GET
def sprint_dashboard(request: HttpRequest, sprint_id: int) -> HttpResponse:
    sprint = get_object_or_404(Sprint.objects.select_related("rubric"), pk=sprint_id)
    role = sprint_role(request.user, sprint)
    if role is None:
        raise Http404("No such sprint.")
    if not role_at_least(role, SprintRole.LEAD):
        raise PermissionDenied("The sprint dashboard is for the sprint's leads.")
    report = sprint_agreement(sprint, bootstrap=BOOTSTRAP)
    span = Judgment.objects.filter(sprint=sprint).aggregate(
        first=Min("created_at"), last=Max("created_at")
    )
    throughput = alpha_chart = None
    if span["first"] is not None:
        first, last = span["first"], span["last"]
        throughput = _throughput(sprint, first, last)
        alpha_chart = _alpha_over_time(sprint, first, last, list(report["criteria"]))
    criteria = [{"name": name, **figures} for name, figures in report["criteria"].items()]
    context = {
        "sprint": sprint,
        "progress": _progress(sprint),
        "report": report,
        "criteria": criteria,
        "annotators": report["annotators"],
        "outliers": sum(entry["outlier"] for entry in report["annotators"]),
        "throughput": throughput,
        "alpha_chart": alpha_chart,
        "open_disputes": Dispute.objects.filter(sprint=sprint, status=DisputeStatus.OPEN).count(),
        "bootstrap": BOOTSTRAP,
    }
    return render(request, "reviews/dashboard.html", context)


urlpatterns = [
    path("sprints/<int:sprint_id>/dashboard", sprint_dashboard, name="sprint-dashboard"),
]
