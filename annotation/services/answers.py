"""Checking a judgment's answers against its rubric version and the item's responses.

The shapes, by criterion kind (``keys`` are the item's response ids):

- ``preference``: ``{"ranking": [every key once, best first], "strength": 1..len(strength_labels)}``
  (strength only when the rubric defines labels; optional), or ``{"tie": true}`` where the
  rubric allows ties.
- ``likert``: ``{key: integer in [min, max]}`` for every response.
- ``flag``: ``{key: true|false}``; responses left out count as false.
- ``text``: a string of at most ``max_length`` characters, storable as text (no NUL
  character, no lone surrogate: :mod:`annotation.services.json_limits`).

Every problem is reported with the criterion (and response) it concerns, as ``field`` paths a
client can show beside the control.
"""

from typing import Any

from annotation.models import Criterion, CriterionKind
from annotation.services.json_limits import text_field_problem

Problem = dict[str, str]


def validate_answers(
    criteria: list[Criterion], response_keys: list[str], answers: Any
) -> tuple[dict[str, Any], list[Problem]]:
    """Return the normalised answers and the problems (empty if the answers are valid)."""
    if not isinstance(answers, dict):
        return {}, [{"field": "answers", "message": "must be an object keyed by criterion"}]
    problems: list[Problem] = []
    known = {c.name for c in criteria}
    for name in sorted(set(answers) - known):
        problems.append(
            {"field": f"answers.{name}", "message": "is not a criterion of this rubric"}
        )
    clean: dict[str, Any] = {}
    for criterion in criteria:
        field = f"answers.{criterion.name}"
        value = answers.get(criterion.name)
        if value is None or value == "" or value == {}:
            if criterion.required:
                problems.append({"field": field, "message": "is required"})
            continue
        checker = _CHECKERS[criterion.kind]
        normalised, errors = checker(criterion, response_keys, value, field)
        problems += errors
        if not errors:
            clean[criterion.name] = normalised
    return clean, problems


def _preference(criterion: Criterion, keys: list[str], value: Any, field: str):
    if not isinstance(value, dict):
        return None, [{"field": field, "message": "must be an object with a ranking"}]
    config = criterion.config or {}
    unknown = sorted(set(value) - {"ranking", "strength", "tie"})
    if unknown:
        return None, [{"field": f"{field}.{unknown[0]}", "message": "is not a preference field"}]
    if value.get("tie") is True:
        if not config.get("allow_tie", False):
            return None, [{"field": f"{field}.tie", "message": "this rubric does not allow ties"}]
        if "strength" in value:
            return None, [{"field": f"{field}.strength", "message": "a tie has no strength"}]
        return {"tie": True}, []
    if "tie" in value and value["tie"] is not False:
        return None, [{"field": f"{field}.tie", "message": "must be true or false"}]
    ranking = value.get("ranking")
    if not isinstance(ranking, list) or not all(isinstance(k, str) for k in ranking):
        return None, [{"field": f"{field}.ranking", "message": "must be a list of response ids"}]
    unknown_keys = [k for k in ranking if k not in keys]
    if unknown_keys:
        return None, [
            {"field": f"{field}.ranking", "message": f"unknown response id {unknown_keys[0]!r}"}
        ]
    if len(set(ranking)) != len(ranking):
        return None, [{"field": f"{field}.ranking", "message": "repeats a response id"}]
    if len(ranking) != len(keys):
        missing = ", ".join(k for k in keys if k not in ranking)
        return None, [
            {"field": f"{field}.ranking", "message": f"must rank every response; missing {missing}"}
        ]
    clean: dict[str, Any] = {"ranking": ranking}
    labels = config.get("strength_labels", [])
    if "strength" in value and value["strength"] is not None:
        strength = value["strength"]
        if not labels:
            return None, [
                {"field": f"{field}.strength", "message": "this rubric has no strength scale"}
            ]
        if (
            not isinstance(strength, int)
            or isinstance(strength, bool)
            or not 1 <= strength <= len(labels)
        ):
            return None, [
                {
                    "field": f"{field}.strength",
                    "message": f"must be an integer from 1 to {len(labels)}",
                }
            ]
        clean["strength"] = strength
    return clean, []


def _likert(criterion: Criterion, keys: list[str], value: Any, field: str):
    if not isinstance(value, dict):
        return None, [{"field": field, "message": "must map each response id to a score"}]
    low, high = criterion.config.get("min", 1), criterion.config.get("max", 5)
    problems = []
    for key in sorted(set(value) - set(keys)):
        problems.append({"field": f"{field}.{key}", "message": "is not a response of this item"})
    for key in keys:
        score = value.get(key)
        if score is None:
            problems.append({"field": f"{field}.{key}", "message": "needs a score"})
        elif not isinstance(score, int) or isinstance(score, bool) or not low <= score <= high:
            problems.append(
                {"field": f"{field}.{key}", "message": f"must be an integer from {low} to {high}"}
            )
    return ({k: value[k] for k in keys} if not problems else None), problems


def _flag(criterion: Criterion, keys: list[str], value: Any, field: str):
    if not isinstance(value, dict):
        return None, [{"field": field, "message": "must map response ids to true or false"}]
    problems = []
    for key, flag in value.items():
        if key not in keys:
            problems.append(
                {"field": f"{field}.{key}", "message": "is not a response of this item"}
            )
        elif not isinstance(flag, bool):
            problems.append({"field": f"{field}.{key}", "message": "must be true or false"})
    return ({k: bool(value.get(k, False)) for k in keys} if not problems else None), problems


def _text(criterion: Criterion, keys: list[str], value: Any, field: str):
    limit = criterion.config.get("max_length", 5000)
    if not isinstance(value, str):
        return None, [{"field": field, "message": "must be text"}]
    if len(value) > limit:
        return None, [{"field": field, "message": f"is longer than {limit} characters"}]
    unstorable = text_field_problem(value, field)
    if unstorable:
        return None, [unstorable]
    return value, []


_CHECKERS = {
    CriterionKind.PREFERENCE: _preference,
    CriterionKind.LIKERT: _likert,
    CriterionKind.FLAG: _flag,
    CriterionKind.TEXT: _text,
}
