"""Checking an export request before anything is stored.

Every problem is reported at once as ``{"field", "message"}``; a request with any problem
creates nothing. Filters are stored with their defaults filled in, so that the manifest states
exactly what was asked even when the caller left a filter out.

The filters (all optional):

- ``min_agreement`` (number in [-1, 1] or null): drop items whose item-level agreement is
  missing or lower;
- ``adjudicated_only`` (bool): keep only items a reviewer adjudicated;
- ``exclude_flagged`` (bool): drop flagged items (see exports.services.labels);
- ``include_gold`` (bool, default false): gold items are left out unless asked for;
- ``test_fraction`` (number in [0, 1)) and ``seed`` (integer >= 0): the share of prompts put in
  the ``test`` split, by a seeded hash of the prompt;
- ``form`` (``standard``, ``conversational`` or ``grouped``): prompt and responses as text,
  as chat messages, or one row per item with the list of every lower-ranked response;
- ``context`` (``prompt``, the default, or ``none``): a preference export's context documents
  go into the prompt, or are left out;
- ``context_template`` and ``document_template``: how the documents are written
  (exports.services.prompt_rendering: the defaults, the placeholders each may use). A template
  with an unknown placeholder, a lookup (``{documents.__class__}``), a positional ``{}``, a
  conversion or format spec, or unbalanced braces is refused, as is a context template
  without ``{documents}``.

A ``judgments`` export has no consensus, split or form: only ``include_gold`` and
``exclude_flagged`` apply to it, and the others are refused rather than silently ignored. A
``consensus`` export is not rendered (it has the documents in its own ``context`` column and
is one row per item already): the rendering filters (``context``, the templates) and the
``grouped`` form are refused on it.

A ``preference`` export may hold production pairs too, or only them (``sources`` and
``production``: exports.services.production_request). Without sprints, only the filters of
the whole file (``test_fraction``, ``seed``, ``form`` and the rendering filters) apply; the
others are refused.
"""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from annotation.models import Sprint
from annotation.services.access import sprints_led_by
from annotation.services.errors import ConcordError
from exports.models import ExportFormat, ExportKind
from exports.services.production_request import ExportParts, export_parts
from exports.services.prompt_rendering import (
    CONTEXT_MODES,
    CONTEXT_PLACEHOLDERS,
    DEFAULT_CONTEXT_TEMPLATE,
    DEFAULT_DOCUMENT_TEMPLATE,
    DOCUMENT_PLACEHOLDERS,
    FORMS,
    template_problems,
)
from feedback.models import FeedbackSource

Problem = dict[str, str]

DEFAULT_FILTERS: dict[str, Any] = {
    "min_agreement": None,
    "adjudicated_only": False,
    "exclude_flagged": False,
    "include_gold": False,
    "test_fraction": 0.0,
    "seed": 0,
    "form": "standard",
    "context": "prompt",
    "context_template": DEFAULT_CONTEXT_TEMPLATE,
    "document_template": DEFAULT_DOCUMENT_TEMPLATE,
}
JUDGMENT_FILTERS = frozenset({"include_gold", "exclude_flagged"})
RENDERING_FILTERS = frozenset({"context", "context_template", "document_template"})
FILE_FILTERS = frozenset({"test_fraction", "seed", "form", *RENDERING_FILTERS})
REQUEST_FIELDS = frozenset({"sprints", "kind", "format", "filters", "sources", "production"})


class ExportRejected(ConcordError):
    """An export request refused; ``problems`` name each bad field. Nothing was stored."""


@dataclass(frozen=True)
class ExportRequest:
    sprints: list[Sprint]
    kind: str
    format: str
    filters: dict[str, Any]
    production: dict[str, Any] | None = None
    feedback_sources: list[FeedbackSource] = field(default_factory=list)


def validate_export_request(user: AbstractBaseUser, data: Any) -> ExportRequest:
    """Only leads of every named sprint (and of every feedback source of the production part)
    may export; a sprint or source the caller does not lead is reported the same way as one
    that does not exist, so the error tells nothing about it."""
    if not isinstance(data, dict):
        raise ExportRejected([{"field": "body", "message": "must be a JSON object"}])
    problems: list[Problem] = []
    unknown = sorted(set(data) - REQUEST_FIELDS)
    problems += [{"field": name, "message": "is not a field of an export"} for name in unknown]
    kind = data.get("kind", ExportKind.PREFERENCE)
    if kind not in ExportKind.values:
        problems.append({"field": "kind", "message": f"must be one of {ExportKind.values}"})
    parts = export_parts(user, data, kind, problems)
    sprints = _sprints(user, data.get("sprints"), problems) if parts.sprints else []
    if not parts.sprints and data.get("sprints") not in (None, []):
        problems.append(
            {"field": "sprints", "message": 'must be empty without "sprints" in sources'}
        )
    fmt = data.get("format", ExportFormat.JSONL)
    if fmt not in ExportFormat.values:
        problems.append({"field": "format", "message": f"must be one of {ExportFormat.values}"})
    filters = _filters(data.get("filters", {}), problems)
    if kind == ExportKind.JUDGMENTS and isinstance(data.get("filters"), dict):
        for name in sorted(set(data["filters"]) & set(DEFAULT_FILTERS) - JUDGMENT_FILTERS):
            if data["filters"][name] != DEFAULT_FILTERS[name]:
                problems.append(
                    {"field": f"filters.{name}", "message": "does not apply to a judgments export"}
                )
    if kind == ExportKind.CONSENSUS:
        _consensus_filters(filters, problems)
    _filters_without_sprints(data, parts, problems)
    if problems:
        raise ExportRejected(problems)
    return ExportRequest(
        sprints=sprints, kind=kind, format=fmt, filters=filters, production=parts.production,
        feedback_sources=parts.feedback_sources,
    )  # fmt: skip


def _consensus_filters(filters: dict[str, Any], problems: list[Problem]) -> None:
    """A consensus export is not rendered: refuse the rendering filters and the grouped form
    when set to anything but their defaults."""
    for name in sorted(RENDERING_FILTERS):
        if filters[name] != DEFAULT_FILTERS[name]:
            problems.append(
                {
                    "field": f"filters.{name}",
                    "message": "does not apply to a consensus export, which has the documents "
                    "in its own context column",
                }
            )
    if filters["form"] == "grouped":
        problems.append(
            {
                "field": "filters.form",
                "message": "grouped applies to a preference export; a consensus export is one "
                "row per item already",
            }
        )


def _filters_without_sprints(data: dict, parts: ExportParts, problems: list[Problem]) -> None:
    if parts.sprints or not isinstance(data.get("filters"), dict):
        return
    for name in sorted(set(data["filters"]) & set(DEFAULT_FILTERS) - FILE_FILTERS):
        if data["filters"][name] != DEFAULT_FILTERS[name]:
            problems.append(
                {"field": f"filters.{name}", "message": "applies only to the sprints part"}
            )


def _sprints(user: AbstractBaseUser, value: Any, problems: list[Problem]) -> list[Sprint]:
    if not isinstance(value, list) or not value:
        problems.append({"field": "sprints", "message": "must be a non-empty list of sprint ids"})
        return []
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**63 for v in value):
        problems.append({"field": "sprints", "message": "must hold integer sprint ids"})
        return []
    led = {s.pk: s for s in sprints_led_by(user).filter(pk__in=value)}
    for sprint_id in sorted(set(value) - set(led)):
        problems.append(
            {
                "field": "sprints",
                "message": f"sprint {sprint_id} does not exist or you do not lead it",
            }
        )
    return [led[pk] for pk in sorted(set(value)) if pk in led]


def _filters(value: Any, problems: list[Problem]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append({"field": "filters", "message": "must be an object"})
        return dict(DEFAULT_FILTERS)
    for name in sorted(set(value) - set(DEFAULT_FILTERS)):
        problems.append({"field": f"filters.{name}", "message": "is not a known filter"})
    out = {**DEFAULT_FILTERS, **{k: v for k, v in value.items() if k in DEFAULT_FILTERS}}

    def bad(name: str, message: str) -> None:
        problems.append({"field": f"filters.{name}", "message": message})

    agreement = out["min_agreement"]
    if agreement is not None and (not _is_number(agreement) or not -1.0 <= agreement <= 1.0):
        bad("min_agreement", "must be a number between -1 and 1, or null")
    for name in ("adjudicated_only", "exclude_flagged", "include_gold"):
        if not isinstance(out[name], bool):
            bad(name, "must be true or false")
    if not _is_number(out["test_fraction"]) or not 0.0 <= out["test_fraction"] < 1.0:
        bad("test_fraction", "must be a number in [0, 1)")
    if not isinstance(out["seed"], int) or isinstance(out["seed"], bool) or out["seed"] < 0:
        bad("seed", "must be a non-negative integer")
    if out["form"] not in FORMS:
        bad("form", f"must be one of {list(FORMS)}")
    if out["context"] not in CONTEXT_MODES:
        bad("context", f"must be one of {list(CONTEXT_MODES)}")
    for name, allowed, required in (
        ("context_template", CONTEXT_PLACEHOLDERS, "documents"),
        ("document_template", DOCUMENT_PLACEHOLDERS, None),
    ):
        for problem in template_problems(out[name], allowed, required):
            bad(name, problem)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
