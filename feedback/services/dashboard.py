"""The feedback dashboard of one source, for its leads: how the product's answers are received.

:func:`feedback_dashboard` reads a window of ``days`` calendar days (UTC) ending at ``now``:

- events per day by signal and by model version (``daily``): every event counts once in
  ``events``; ``thumb_up``/``thumb_down`` count thumbs, ``stars`` events with a star rating,
  ``corrected`` events whose outcome is ``corrected`` (the signal, which survives the purge of
  the correction's text), ``reasked``/``escalated`` events with that implicit signal;
- per model version (name and version): the thumbs-up rate over thumbed events with a 95 %
  **Wilson score** interval, and the mean stars with a 95 % **normal** interval
  (mean ± 1.96 · s / √n, s the sample standard deviation; none under two ratings);
- the strata with the worst thumbs-up rate among those with at least ``min_support`` thumbed
  events (worst first; ties: more thumbs first, then the stratum's name);
- a drift mark per model version: this week's thumbs-up rate (the 7 days up to ``now``) outside
  the Wilson interval of last week's (the 7 days before), ``None`` when either week has no
  thumbs.

Every figure is one SQL aggregate (GROUP BY with ``TruncDate`` and filtered counts) on SQLite
and PostgreSQL alike; Python only fills the days without events and computes the intervals
from the grouped counts. Reads only; only a lead of the source (or a superuser) gets it:
someone who leads no source gets 403, a lead of other sources 404.
"""

import math
from datetime import datetime, time, timedelta
from statistics import NormalDist
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from annotation.services.errors import ConcordError
from feedback.models import FeedbackEvent, FeedbackSource
from feedback.services.feedback_access import require_source_lead

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054
MAX_DAYS = 366
DEFAULT_MIN_SUPPORT = 20
DEFAULT_WORST = 10
WEEK = timedelta(days=7)
INTERVALS = {
    "thumbs_up_rate": "Wilson score interval, 95%",
    "mean_stars": "normal interval, 95%: mean ± 1.96 · s / √n (s: sample standard deviation)",
}
# The signals counted per day, each as a filter on the copied signal columns.
SIGNALS: dict[str, Q] = {
    "thumb_up": Q(thumb=1),
    "thumb_down": Q(thumb=-1),
    "stars": Q(stars__isnull=False),
    "corrected": Q(outcome="corrected"),
    "reasked": Q(reasked=True),
    "escalated": Q(escalated=True),
}


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion; ``None`` without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(
    n: int, total: float, total_of_squares: float, z: float = Z95
) -> tuple[float, float] | None:
    """mean ± z · s / √n from a count, a sum and a sum of squares; ``None`` under two values."""
    if n < 2:
        return None
    mean = total / n
    variance = max(0.0, (total_of_squares - n * mean * mean) / (n - 1))
    half = z * math.sqrt(variance / n)
    return mean - half, mean + half


def _rounded(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [round(interval[0], 6), round(interval[1], 6)]


def _rate(up: int, thumbs: int) -> float | None:
    return round(up / thumbs, 6) if thumbs else None


def _model(row: dict[str, Any]) -> dict[str, str]:
    return {"name": row["model_name"], "version": row["model_version"]}


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return row["model_name"], row["model_version"]


def feedback_dashboard(
    actor: AbstractBaseUser,
    source: FeedbackSource,
    *,
    now: datetime | None = None,
    days: int = 28,
    min_support: int = DEFAULT_MIN_SUPPORT,
    worst: int = DEFAULT_WORST,
) -> dict[str, Any]:
    """The dashboard's figures for ``source`` over ``days`` days ending at ``now`` (see the
    module's docstring). Raises ``ConcordError`` 404 (field ``source``) unless ``actor`` leads
    the source (403 when they lead none), 400 naming ``days``, ``min_support`` or ``worst``
    when out of range."""
    require_source_lead(actor, source)
    problems = []
    if not 1 <= days <= MAX_DAYS:
        problems.append({"field": "days", "message": f"must be from 1 to {MAX_DAYS}."})
    if min_support < 1:
        problems.append({"field": "min_support", "message": "must be at least 1."})
    if worst < 1:
        problems.append({"field": "worst", "message": "must be at least 1."})
    if problems:
        raise ConcordError(problems)
    now = now or timezone.now()
    first_day = timezone.localdate(now) - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    events = FeedbackEvent.objects.filter(source=source)
    window = events.filter(occurred_at__gte=since, occurred_at__lte=now)
    versions = _versions(window)
    drift = _drift(events, now)
    for entry in versions:
        entry["drift"] = drift.get((entry["model"]["name"], entry["model"]["version"]))
    return {
        "source": source.slug,
        "days": days,
        "since": since.isoformat(),
        "until": now.isoformat(),
        "intervals": INTERVALS,
        "events": sum(entry["events"] for entry in versions),
        "daily": _daily(window, [first_day + timedelta(days=i) for i in range(days)]),
        "model_versions": versions,
        "min_support": min_support,
        "worst_strata": _worst_strata(window, min_support, worst),
    }


def _daily(window: QuerySet[FeedbackEvent], dates: list) -> dict[str, Any]:
    """Per day: events and each signal, for all versions together and for each version."""
    rows = (
        window.annotate(day=TruncDate("occurred_at"))
        .values("day", "model_name", "model_version")
        .annotate(
            events=Count("id"),
            **{name: Count("id", filter=condition) for name, condition in SIGNALS.items()},
        )
        .order_by("model_name", "model_version", "day")
    )
    position = {day: index for index, day in enumerate(dates)}
    counted = ["events", *SIGNALS]
    totals = {name: [0] * len(dates) for name in counted}
    per_version: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        index = position[row["day"]]
        entry = per_version.setdefault(
            _key(row), {"model": _model(row), **{name: [0] * len(dates) for name in counted}}
        )
        for name in counted:
            entry[name][index] += row[name]
            totals[name][index] += row[name]
    return {
        "days": [day.isoformat() for day in dates],
        "events": totals.pop("events"),
        "by_signal": totals,
        "by_model_version": list(per_version.values()),
    }


def _thumb_counts(prefix: str = "", condition: Q | None = None) -> dict[str, Count]:
    within = condition or Q()
    return {
        f"{prefix}up": Count("id", filter=within & Q(thumb=1)),
        f"{prefix}down": Count("id", filter=within & Q(thumb=-1)),
    }


def _versions(window: QuerySet[FeedbackEvent]) -> list[dict[str, Any]]:
    rows = (
        window.values("model_name", "model_version")
        .annotate(
            events=Count("id"),
            **_thumb_counts(),
            rated=Count("stars"),
            stars_sum=Sum("stars"),
            stars_squares=Sum(F("stars") * F("stars")),
        )
        .order_by("model_name", "model_version")
    )
    out = []
    for row in rows:
        thumbs = row["up"] + row["down"]
        rated = row["rated"]
        stars_sum = row["stars_sum"] or 0
        out.append(
            {
                "model": _model(row),
                "events": row["events"],
                "thumbs": thumbs,
                "thumbs_up": row["up"],
                "thumbs_down": row["down"],
                "thumbs_up_rate": _rate(row["up"], thumbs),
                "thumbs_up_ci": _rounded(wilson_interval(row["up"], thumbs)),
                "rated": rated,
                "mean_stars": round(stars_sum / rated, 6) if rated else None,
                "mean_stars_ci": _rounded(
                    mean_interval(rated, stars_sum, row["stars_squares"] or 0)
                ),
            }
        )
    return out


def _worst_strata(
    window: QuerySet[FeedbackEvent], min_support: int, worst: int
) -> list[dict[str, Any]]:
    rows = (
        window.exclude(stratum="")
        .values("stratum")
        .annotate(**_thumb_counts(), events=Count("id"))
        .annotate(thumbs=F("up") + F("down"))
        .filter(thumbs__gte=min_support)
        .annotate(rate=Cast("up", FloatField()) / Cast("thumbs", FloatField()))
        .order_by("rate", "-thumbs", "stratum")[:worst]
    )
    return [
        {
            "stratum": row["stratum"],
            "events": row["events"],
            "thumbs": row["thumbs"],
            "thumbs_up": row["up"],
            "thumbs_down": row["down"],
            "thumbs_up_rate": _rate(row["up"], row["thumbs"]),
            "thumbs_up_ci": _rounded(wilson_interval(row["up"], row["thumbs"])),
        }
        for row in rows
    ]


def _drift(events: QuerySet[FeedbackEvent], now: datetime) -> dict[tuple[str, str], dict]:
    """Per model version: this week's and last week's thumbs and whether this week's rate lies
    outside last week's Wilson interval (``drifted``: ``None`` when a week has no thumbs)."""
    this_week = Q(occurred_at__gt=now - WEEK)
    rows = (
        events.filter(occurred_at__gt=now - 2 * WEEK, occurred_at__lte=now, thumb__isnull=False)
        .values("model_name", "model_version")
        .annotate(**_thumb_counts("this_", this_week), **_thumb_counts("last_", ~this_week))
        .order_by()
    )
    out = {}
    for row in rows:
        weeks = {}
        for name in ("this", "last"):
            up, down = row[f"{name}_up"], row[f"{name}_down"]
            weeks[name] = {
                "thumbs": up + down,
                "thumbs_up": up,
                "thumbs_up_rate": _rate(up, up + down),
                "thumbs_up_ci": _rounded(wilson_interval(up, up + down)),
            }
        this_thumbs = row["this_up"] + row["this_down"]
        interval = wilson_interval(row["last_up"], row["last_up"] + row["last_down"])
        drifted = direction = None
        if this_thumbs and interval is not None:
            rate = row["this_up"] / this_thumbs
            drifted = not interval[0] <= rate <= interval[1]
            direction = ("down" if rate < interval[0] else "up") if drifted else None
        out[_key(row)] = {
            "this_week": weeks["this"],
            "last_week": weeks["last"],
            "drifted": drifted,
            "direction": direction,
        }
    return out
