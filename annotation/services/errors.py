"""The one way a Concord service fails.

Every service that refuses a request raises a ``ConcordError`` (or a subclass named for its
door: ``JudgmentRejected``, ``ImportRejected``, ``ExportRejected`` …). It carries ``problems``,
a list of ``{"field", "message", "line"?}`` dicts, an HTTP ``status`` and a one-line
``detail``. The DRF exception handler (``annotation.api.errors``) maps it once into the API's
one error shape, ``{"detail": ..., "errors": [...]}``; views hold no ``try/except`` for it, and
commands, admin actions and pages read the same three attributes.

Why one base and not seven: callers (a view, a task, a page) need the same three things from any
refusal, and a second shape for a 409 or a 403 is a bug a client finds first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Problem = dict[str, Any]


class ConcordError(Exception):
    """A request a service refuses, with every problem it found. Nothing was stored.

    ``problems`` is never empty; each has ``message`` and, where one field is at fault,
    ``field`` (dotted path into the body, e.g. ``answers.preference.ranking``) and, for files,
    ``line`` (1-based; 0 is the file as a whole). ``status`` is 400 for bad input, 403 for a
    role the caller lacks, 404 for a thing the caller may not know exists, 409 for a state
    conflict, 413 for a body over a limit, 503 when a service the request needs is down.
    """

    status: int = 400
    default_detail: str = "The request was refused."

    def __init__(
        self,
        problems: Iterable[Mapping[str, Any]] | str,
        status: int | None = None,
        *,
        detail: str | None = None,
        field: str | None = None,
    ) -> None:
        if isinstance(problems, str):
            problem: Problem = {"message": problems}
            if field:
                problem["field"] = field
            problems = [problem]
        self.problems: list[Problem] = [_clean(p) for p in problems] or [
            {"message": detail or self.default_detail}
        ]
        if status is not None:
            self.status = status
        self.detail = detail or _summary(self.problems)
        super().__init__(self.detail)

    @property
    def errors(self) -> list[Problem]:
        """The problems, as the API's ``errors`` list (an alias kept for older callers)."""
        return self.problems

    def as_body(self) -> dict[str, Any]:
        """The API's one error shape."""
        return {"detail": self.detail, "errors": self.problems}


def _clean(problem: Mapping[str, Any]) -> Problem:
    out: Problem = {"message": str(problem.get("message", ""))}
    if problem.get("field"):
        out["field"] = str(problem["field"])
    if problem.get("line") is not None:
        out["line"] = int(problem["line"])
    return out


def _summary(problems: list[Problem]) -> str:
    first = problems[0]
    where = f"{first['field']}: " if first.get("field") else ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}{first['message']}{more}"
