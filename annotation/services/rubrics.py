"""Rubric rules: what each criterion kind may be configured with, and versioning.

A rubric that judgments already answered is frozen: changing it would change the meaning of
stored answers. :func:`revise_rubric` is the way to change one; it copies the rubric and its
criteria into the next version, which sprints can then adopt.
"""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from annotation.models import Criterion, CriterionKind, Rubric
from annotation.models.rubrics import FrozenRubricError
from annotation.services.audit import record_event

# The keys a criterion's ``config`` may hold, per kind, with what each means. Anything else is
# refused: a misspelled key ("lables") would otherwise be saved and silently ignored.
CONFIG_KEYS: dict[str, dict[str, str]] = {
    CriterionKind.PREFERENCE: {
        "allow_tie": 'true to offer "equally good"',
        "strength_labels": 'how much better, weakest first, e.g. ["slightly", "clearly"]',
    },
    CriterionKind.LIKERT: {
        "min": "lowest score (default 1)",
        "max": "highest score (default 5)",
        "labels": 'words for scale points, e.g. {"1": "useless", "5": "perfect"}',
        "level": "nominal, ordinal (default), interval or ratio: the agreement metric",
    },
    CriterionKind.FLAG: {},
    CriterionKind.TEXT: {"max_length": "longest answer in characters (default 5000)"},
}


def config_keys_help() -> str:
    """The valid ``config`` keys of every kind, for a form's help text and the API schema."""
    parts = []
    for kind, keys in CONFIG_KEYS.items():
        listed = "; ".join(f"{key}: {meaning}" for key, meaning in keys.items()) or "no keys"
        parts.append(f"{kind}: {listed}")
    return " | ".join(parts)


def validate_criterion_config(kind: str, config: Any) -> list[str]:
    """The problems with a criterion's ``config``, as messages a lead can act on (empty if none).
    Unknown keys are problems too, named with the kind's valid keys."""
    if not isinstance(config, dict):
        return ["config must be a JSON object"]
    errors: list[str] = []
    if kind in CONFIG_KEYS:
        unknown = sorted(str(key) for key in config if key not in CONFIG_KEYS[kind])
        if unknown:
            valid = ", ".join(CONFIG_KEYS[kind]) or "none"
            errors.append(
                f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for a "
                f"{kind} criterion; valid keys: {valid}"
            )
    if kind == CriterionKind.PREFERENCE:
        if not isinstance(config.get("allow_tie", False), bool):
            errors.append("allow_tie must be true or false")
        labels = config.get("strength_labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            errors.append("strength_labels must be a list of non-empty strings, weakest first")
        elif len(set(labels)) != len(labels):
            errors.append("strength_labels must not repeat")
    elif kind == CriterionKind.LIKERT:
        low, high = config.get("min", 1), config.get("max", 5)
        if not (isinstance(low, int) and isinstance(high, int)) or isinstance(low, bool):
            errors.append("min and max must be integers")
        elif high <= low:
            errors.append("max must be greater than min")
        labels = config.get("labels", {})
        if not isinstance(labels, dict):
            errors.append('labels must map scale points to words, e.g. {"1": "poor"}')
        if config.get("level", "ordinal") not in ("nominal", "ordinal", "interval", "ratio"):
            errors.append("level must be nominal, ordinal, interval or ratio (for agreement)")
    elif kind == CriterionKind.TEXT:
        max_length = config.get("max_length", 5000)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            errors.append("max_length must be a positive integer")
    elif kind != CriterionKind.FLAG:
        errors.append(f"unknown criterion kind {kind!r}")
    return errors


def rubric_problems(rubric: Rubric) -> list[str]:
    """Why a rubric cannot be used by an active sprint yet (empty if it can)."""
    kinds = list(rubric.criteria.values_list("kind", flat=True))
    problems = []
    if kinds.count(CriterionKind.PREFERENCE) != 1:
        problems.append("a rubric needs exactly one preference criterion")
    for criterion in rubric.criteria.all():
        problems += [
            f"{criterion.name}: {msg}"
            for msg in validate_criterion_config(criterion.kind, criterion.config)
        ]
    return problems


def ensure_rubric_editable(rubric: Rubric) -> None:
    """Raise :class:`FrozenRubricError` if judgments already answer this rubric."""
    if rubric.is_frozen:
        raise FrozenRubricError(
            f"{rubric} is frozen: judgments already answer it. Create a new version instead."
        )


@transaction.atomic
def revise_rubric(rubric: Rubric, actor: AbstractBaseUser | None = None) -> Rubric:
    """Copy ``rubric`` and its criteria into the next version and return it. Locks the rubric
    row so that two leads revising at once get consecutive versions, not a unique-key error."""
    rubric = Rubric.objects.select_for_update().get(pk=rubric.pk)
    latest = Rubric.objects.filter(name=rubric.name).order_by("-version").first()
    assert latest is not None
    if latest.pk != rubric.pk:
        raise FrozenRubricError(f"{rubric} already has a newer version, v{latest.version}")
    new = Rubric.objects.create(
        name=rubric.name,
        version=rubric.version + 1,
        guidelines=rubric.guidelines,
        previous=rubric,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    Criterion.objects.bulk_create(
        Criterion(
            rubric=new,
            name=c.name,
            kind=c.kind,
            question=c.question,
            help_text=c.help_text,
            required=c.required,
            position=c.position,
            config=c.config,
        )
        for c in rubric.criteria.all()
    )
    record_event(actor, "rubric.revised", new, changes={"from_version": rubric.version})
    return new
