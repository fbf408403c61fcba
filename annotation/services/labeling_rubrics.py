"""Rubrics as labeling reads them, kept in memory per process once they are frozen.

Every next item and every submit needs the sprint's rubric: its criteria to validate answers,
and its questions to show. Reading them costs two queries and building their API form costs
more than the rest of a request, while a *frozen* rubric (one that a judgment answers) can never
change again: the admin refuses to edit it, judgments are never deleted, and a change makes a
new version, a new row with a new id (:func:`annotation.services.rubrics.revise_rubric`). So a
frozen rubric is safe to cache for the life of the process, with no invalidation, and a sprint
moved to a new version reads that version under its own id.

The key is the row's id *and* its ``created_at``: callers pass the rubric row they already read
with the sprint (a join, no extra query), and an id that SQLite hands out again after a rolled
back transaction (as between tests) then cannot find another rubric's entry.

A rubric that no judgment answers yet may still be edited by its lead; its criteria are read
afresh on every call until the first judgment freezes it.
"""

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from annotation.models import Criterion, Judgment, Rubric

# Rubrics are few (one per sprint and version); the bound only guards against a process that
# lives through thousands of them.
_CACHE_LIMIT = 256
_cache: dict[tuple[int, datetime], "LabelingRubric"] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class LabelingRubric:
    """A rubric version with its criteria in order. Shared between threads and requests: read
    it, never change it (``payload`` and the criteria's ``config`` included)."""

    id: int
    name: str
    version: int
    guidelines: str
    criteria: tuple[Criterion, ...]
    frozen: bool
    # The "rubric" object of GET /api/v1/sprints/{id}/next, the shape of the API's
    # RubricSerializer (a test holds the two equal).
    payload: dict[str, Any]


def labeling_rubric(rubric: Rubric) -> LabelingRubric:
    """``rubric`` (a row the caller read) with its criteria: from memory if it was frozen when
    last read, else one query to know whether it is frozen now and one for its criteria."""
    key = (rubric.pk, rubric.created_at)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    frozen = Judgment.objects.filter(rubric_id=rubric.pk).exists()
    criteria = tuple(Criterion.objects.filter(rubric_id=rubric.pk).order_by("position", "id"))
    loaded = LabelingRubric(
        id=rubric.pk,
        name=rubric.name,
        version=rubric.version,
        guidelines=rubric.guidelines,
        criteria=criteria,
        frozen=frozen,
        payload={
            "id": rubric.pk,
            "name": rubric.name,
            "version": rubric.version,
            "guidelines": rubric.guidelines,
            "criteria": [
                {
                    "name": c.name,
                    "kind": c.kind,
                    "question": c.question,
                    "help_text": c.help_text,
                    "required": c.required,
                    "config": c.config,
                }
                for c in criteria
            ],
        },
    )
    if frozen:
        with _cache_lock:
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            _cache[key] = loaded
    return loaded


def forget_cached_rubrics() -> None:
    """Empty this process's cache. Never needed for correctness (frozen rubrics do not change);
    for a test that wants to see the queries a cold process makes."""
    with _cache_lock:
        _cache.clear()
