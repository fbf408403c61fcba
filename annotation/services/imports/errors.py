from dataclasses import dataclass

from annotation.services.errors import ConcordError


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an import file. ``line`` is 1-based (the CSV header is line 1);
    0 means the file as a whole."""

    line: int
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"line": self.line, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        field = f" [{self.field}]" if self.field else ""
        return f"{where}{field}: {self.message}"


class ImportRejected(ConcordError):
    """The file was rejected whole; nothing of it was stored. ``import_problems`` keeps the
    typed problems; ``problems`` (the API's ``errors``) carries each with its ``line``."""

    def __init__(self, problems: list[ImportProblem], total: int | None = None) -> None:
        self.import_problems = problems
        self.total = total if total is not None else len(problems)
        super().__init__(
            [p.as_dict() for p in problems],
            detail=f"import rejected with {self.total} problem(s); first: {problems[0]}",
        )

    def as_body(self) -> dict[str, object]:
        """The one error shape, plus ``total`` (the listed problems may be capped)."""
        return {**super().as_body(), "total": self.total}


class RowError(Exception):
    """Raised by a parser for one problem in one row; the reader attaches the line number."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)
