"""The parts of a ``preference`` export request: labelled sprints, production pairs, or both.

``"sources"`` names the parts: ``["sprints"]`` (the default, as before), ``["production"]``
(then ``sprints`` may be left out or empty) or ``["sprints", "production"]``. Production pairs
(feedback.services.production_preferences) come only from feedback sources the caller leads
(a superuser leads all); ``"production"`` narrows them:

- ``sources``: slugs of feedback sources; left out, every source the caller leads;
- ``since`` / ``until``: ISO 8601 times with a time zone; events that occurred in
  [since, until);
- ``model_version``: the model version that answered;
- ``kind``: ``correction`` or ``pick``; left out, both.

They are stored with every default filled in (the sources as the sorted slugs they resolved
to, times in UTC), so that the manifest says exactly what went in. A source the caller does not
lead is reported as one that does not exist, as sprints are.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.dateparse import parse_datetime

from exports.models import ExportKind
from feedback.models import FeedbackSource, PreferenceKind
from feedback.services.feedback_access import sources_led_by
from feedback.services.production_preferences import ProductionFilters

Problem = dict[str, str]

SPRINTS, PRODUCTION = "sprints", "production"
PARTS = (SPRINTS, PRODUCTION)
PRODUCTION_KEYS = ("sources", "since", "until", "model_version", "kind")


@dataclass(frozen=True)
class ExportParts:
    """Which parts an export holds; for the production part, its stored filters and sources."""

    sprints: bool = True
    production: dict[str, Any] | None = None
    feedback_sources: list[FeedbackSource] = field(default_factory=list)


def export_parts(
    user: AbstractBaseUser, data: dict[str, Any], kind: Any, problems: list[Problem]
) -> ExportParts:
    """Read ``sources`` and ``production`` from an export request, adding a problem per bad
    field. A request that names no production part must not send ``production`` filters."""
    names = data.get("sources", [SPRINTS])
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) and n in PARTS for n in names)
        or len(set(names)) != len(names)
    ):
        problems.append(
            {"field": "sources", "message": 'must be a non-empty list of "sprints" and '
                                            '"production", each at most once'}
        )  # fmt: skip
        return ExportParts(sprints=isinstance(names, list) and SPRINTS in names)
    if PRODUCTION not in names:
        if "production" in data:
            problems.append(
                {"field": "production", "message": 'applies only with "production" in sources'}
            )
        return ExportParts(sprints=True)
    if kind != ExportKind.PREFERENCE:
        problems.append(
            {"field": "sources", "message": "production pairs go only into a preference export"}
        )
    production, sources = _production_filters(user, data.get("production", {}), problems)
    return ExportParts(sprints=SPRINTS in names, production=production, feedback_sources=sources)


def _production_filters(
    user: AbstractBaseUser, value: Any, problems: list[Problem]
) -> tuple[dict[str, Any], list[FeedbackSource]]:
    def bad(name: str, message: str) -> None:
        problems.append({"field": f"production.{name}", "message": message})

    if not isinstance(value, dict):
        problems.append({"field": "production", "message": "must be an object"})
        return {}, []
    for name in sorted(set(value) - set(PRODUCTION_KEYS)):
        bad(name, "is not a production filter")
    sources = _sources(user, value.get("sources"), bad)
    since, until = _time(value.get("since"), "since", bad), _time(value.get("until"), "until", bad)
    if since and until and since >= until:
        bad("until", "must be later than since")
    version = value.get("model_version")
    if version is not None and (not isinstance(version, str) or not 0 < len(version) <= 100):
        bad("model_version", "must be a model version (text of 1 to 100 characters) or null")
    kind = value.get("kind")
    if kind is not None and kind not in PreferenceKind.values:
        bad("kind", f"must be one of {PreferenceKind.values}, or null")
    stored = {
        "sources": [source.slug for source in sources],
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "model_version": version,
        "kind": kind,
    }
    return stored, sources


def _sources(user: AbstractBaseUser, value: Any, bad) -> list[FeedbackSource]:
    led = sources_led_by(user).order_by("slug")
    if value is None:
        sources = list(led)
        if not sources:
            bad("sources", "you lead no feedback source")
        return sources
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        bad("sources", "must be a non-empty list of feedback source slugs")
        return []
    found = {source.slug: source for source in led.filter(slug__in=value)}
    for slug in sorted(set(value) - set(found)):
        bad("sources", f"source {slug[:100]!r} does not exist or you do not lead it")
    return [found[slug] for slug in sorted(found)]


def _time(value: Any, name: str, bad) -> datetime | None:
    if value is None:
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        bad(name, "must be an ISO 8601 time with a time zone, e.g. 2026-12-01T00:00:00Z")
        return None
    return parsed.astimezone(UTC)


def production_filters(stored: dict[str, Any]) -> ProductionFilters:
    """The reader's filters from an export's stored ``production`` filters."""
    since, until = stored.get("since"), stored.get("until")
    return ProductionFilters(
        sources=list(stored["sources"]),
        since=datetime.fromisoformat(since) if since else None,
        until=datetime.fromisoformat(until) if until else None,
        model_version=stored.get("model_version"),
        kind=stored.get("kind"),
    )
