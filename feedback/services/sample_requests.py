"""Reading a request for a feedback sample (``POST /api/v1/feedback/samples``) into a
:class:`SampleRequest`, with every problem named by its field.

The body::

    {"sprint": 7, "n": 200, "seed": 42,
     "filters": {"source": "support-bot" | ["support-bot", "web"],
                 "since": "2026-11-01", "until": "2026-12-01T00:00:00Z",
                 "model_version": "v4" | ["v3", "v4"], "stratum": "billing" | [...],
                 "signals": {"thumb": "down", "reasked": true, "escalated": false,
                             "outcome": "corrected", "stars_at_most": 2}},
     "strata": {"field": "stratum", "weights": {"billing": 2, "auth": 1},
                "redistribute": false}}

``since`` is inclusive and ``until`` exclusive; a date alone is midnight UTC, a time without an
offset is UTC. ``strata`` defaults to ``{"field": "stratum"}`` (equal allocation over the strata
present); ``seed`` defaults to a random one, stored with the sample so the draw can be repeated.
Nothing here touches the database except the sources named by slug.
"""

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.dateparse import parse_date, parse_datetime

from annotation.services.errors import ConcordError, Problem
from feedback.models import FeedbackSource
from feedback.services.event_reader import THUMBS
from feedback.services.event_schema import OUTCOMES
from feedback.services.feedback_access import require_feedback_lead

MAX_SAMPLE_ITEMS = 10_000
MAX_SEED = 2**63 - 1
MAX_LISTED = 100  # values in one list filter, strata weights
STRATA_FIELDS = ("stratum", "model_version", "locale", "segment")
BODY_KEYS = frozenset({"sprint", "filters", "n", "strata", "seed"})
FILTER_KEYS = frozenset({"source", "since", "until", "model_version", "signals", "stratum"})
STRATA_KEYS = frozenset({"field", "weights", "redistribute"})
BOOLEAN_SIGNALS = ("reasked", "escalated")
SIGNAL_KEYS = frozenset({"thumb", "outcome", "stars_at_most", *BOOLEAN_SIGNALS})


class SampleRejected(ConcordError):
    """A sample request with bad fields; nothing was stored."""

    default_detail = "The sample request was refused."


@dataclass
class SampleRequest:
    """A checked request. ``filters`` and ``strata`` are in their stored (normalised) form."""

    n: int
    seed: int
    filters: dict[str, Any] = field(default_factory=dict)
    strata: dict[str, Any] = field(default_factory=dict)
    sources: list[FeedbackSource] = field(default_factory=list)


def read_sample_request(actor: AbstractBaseUser, body: Any) -> SampleRequest:
    """Check ``body`` (everything but ``sprint``, which the caller resolved) and the sources it
    names. Raises :class:`SampleRejected` listing every bad field (400); then the sources must
    be led by ``actor`` (``feedback.services.feedback_access``: a superuser leads all): 403 when
    they lead none, 404 on ``filters.source`` for a slug they do not lead or that does not
    exist, the same answer for both. Without ``filters.source`` the sample draws from every
    source the actor leads."""
    if not isinstance(body, dict):
        raise SampleRejected("The body must be a JSON object.", field="body")
    problems: list[Problem] = []
    _refuse_unknown(body, BODY_KEYS, "", problems)
    n = _count(body.get("n"), problems)
    seed = _seed(body.get("seed"), problems)
    filters = _filters(body.get("filters", {}), problems)
    strata = _strata(body.get("strata", {"field": "stratum"}), problems)
    if problems:
        raise SampleRejected(problems)
    sources = _sources(actor, filters.get("source"))
    filters["source"] = [source.slug for source in sources]
    return SampleRequest(n=n, seed=seed, filters=filters, strata=strata, sources=sources)


def _count(value: Any, problems: list[Problem]) -> int:
    if value is None:
        problems.append({"field": "n", "message": "Required: how many items to draw."})
    elif not _is_int(value) or not 1 <= value <= MAX_SAMPLE_ITEMS:
        problems.append(
            {"field": "n", "message": f"Must be a whole number from 1 to {MAX_SAMPLE_ITEMS}."}
        )
    else:
        return value
    return 0


def _seed(value: Any, problems: list[Problem]) -> int:
    if value is None:
        return secrets.randbelow(2**31)
    if not _is_int(value) or not 0 <= value <= MAX_SEED:
        problems.append(
            {"field": "seed", "message": f"Must be a whole number from 0 to {MAX_SEED}."}
        )
        return 0
    return value


def _filters(value: Any, problems: list[Problem]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append({"field": "filters", "message": "Must be an object."})
        return {}
    _refuse_unknown(value, FILTER_KEYS, "filters.", problems)
    out: dict[str, Any] = {}
    for name in ("source", "model_version", "stratum"):
        if name in value:
            texts = _texts(value[name], f"filters.{name}", problems, allow_empty=name != "source")
            if texts is not None:
                out[name] = texts
    since = _moment(value.get("since"), "filters.since", problems)
    until = _moment(value.get("until"), "filters.until", problems)
    if since and until and since >= until:
        problems.append({"field": "filters.until", "message": "Must be later than 'since'."})
    if since:
        out["since"] = since.isoformat()
    if until:
        out["until"] = until.isoformat()
    if "signals" in value:
        out["signals"] = _signals(value["signals"], problems)
    return out


def _texts(
    value: Any, where: str, problems: list[Problem], *, allow_empty: bool
) -> list[str] | None:
    """A string or a non-empty list of strings (at most ``MAX_LISTED``), as a sorted list."""
    values = [value] if isinstance(value, str) else value
    if (
        not isinstance(values, list)
        or not values
        or len(values) > MAX_LISTED
        or not all(isinstance(v, str) and len(v) <= 200 for v in values)
        or (not allow_empty and not all(v.strip() for v in values))
    ):
        problems.append(
            {
                "field": where,
                "message": f"Must be text or a list of 1 to {MAX_LISTED} texts "
                "(each at most 200 characters).",
            }
        )
        return None
    return sorted(set(values))


def _moment(value: Any, where: str, problems: list[Problem]) -> datetime | None:
    if value is None:
        return None
    moment = None
    if isinstance(value, str):
        try:
            moment = parse_datetime(value)
            if moment is None and (day := parse_date(value)) is not None:
                moment = datetime.combine(day, time.min)
        except ValueError:
            moment = None
    if not isinstance(moment, datetime):
        problems.append({"field": where, "message": "Must be an ISO 8601 date or date and time."})
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _signals(value: Any, problems: list[Problem]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append({"field": "filters.signals", "message": "Must be an object."})
        return {}
    _refuse_unknown(value, SIGNAL_KEYS, "filters.signals.", problems)
    out: dict[str, Any] = {}
    if "thumb" in value:
        if isinstance(value["thumb"], str) and value["thumb"] in THUMBS:
            out["thumb"] = value["thumb"]
        else:
            problems.append({"field": "filters.signals.thumb", "message": "Must be up or down."})
    if "outcome" in value:
        if value["outcome"] in OUTCOMES:
            out["outcome"] = value["outcome"]
        else:
            problems.append(
                {
                    "field": "filters.signals.outcome",
                    "message": f"Must be one of {', '.join(OUTCOMES)}.",
                }
            )
    if "stars_at_most" in value:
        stars = value["stars_at_most"]
        if _is_int(stars) and 1 <= stars <= 5:
            out["stars_at_most"] = stars
        else:
            problems.append(
                {
                    "field": "filters.signals.stars_at_most",
                    "message": "Must be a whole number from 1 to 5.",
                }
            )
    for name in BOOLEAN_SIGNALS:
        if name in value:
            if isinstance(value[name], bool):
                out[name] = value[name]
            else:
                problems.append(
                    {"field": f"filters.signals.{name}", "message": "Must be true or false."}
                )
    return out


def _strata(value: Any, problems: list[Problem]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append(
            {"field": "strata", "message": 'Must be an object such as {"field": "stratum"}.'}
        )
        return {}
    _refuse_unknown(value, STRATA_KEYS, "strata.", problems)
    out: dict[str, Any] = {"field": "stratum", "redistribute": False}
    if value.get("field", "stratum") in STRATA_FIELDS:
        out["field"] = value.get("field", "stratum")
    else:
        problems.append(
            {"field": "strata.field", "message": f"Must be one of {', '.join(STRATA_FIELDS)}."}
        )
    if "redistribute" in value:
        if isinstance(value["redistribute"], bool):
            out["redistribute"] = value["redistribute"]
        else:
            problems.append({"field": "strata.redistribute", "message": "Must be true or false."})
    if "weights" in value:
        weights = value["weights"]
        if (
            not isinstance(weights, dict)
            or not weights
            or len(weights) > MAX_LISTED
            or not all(len(key) <= 200 for key in weights)
        ):
            problems.append(
                {
                    "field": "strata.weights",
                    "message": f"Must be an object of 1 to {MAX_LISTED} strata and their weights.",
                }
            )
        else:
            for key, weight in weights.items():
                if (
                    isinstance(weight, bool)
                    or not isinstance(weight, int | float)
                    or not 0 < weight < 1e9
                ):
                    problems.append(
                        {"field": f"strata.weights.{key}", "message": "Must be a positive number."}
                    )
            out["weights"] = dict(sorted(weights.items()))
    return out


def _sources(actor: AbstractBaseUser, slugs: list[str] | None) -> list[FeedbackSource]:
    """The sources named (all the actor leads when none are): 403 when the actor leads no
    source at all, 404 naming ``filters.source`` for one they do not lead or that does not
    exist (the same answer for both, as for sprints)."""
    led = require_feedback_lead(actor)
    if slugs is None:
        return list(led.order_by("slug"))
    sources = list(led.filter(slug__in=slugs).order_by("slug"))
    missing = sorted(set(slugs) - {source.slug for source in sources})
    if missing:
        raise ConcordError(
            [{"field": "filters.source", "message": f"No such feedback source {slug!r}."}
             for slug in missing],
            status=404,
        )  # fmt: skip
    return sources


def _refuse_unknown(
    value: dict[str, Any], known: frozenset[str], prefix: str, problems: list[Problem]
) -> None:
    for name in sorted(set(value) - known):
        problems.append({"field": f"{prefix}{name}", "message": "Unknown field."})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
