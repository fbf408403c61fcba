"""Whether a parsed row can be stored: the database's and orjson's limits, apart from the
row's shape (:mod:`annotation.services.imports.records`).

PostgreSQL refuses NUL in text and JSON, and orjson reads 1,024 levels of nesting but writes
only 254, so a row that parsed could still fail at the write with a 500. The checks are those
of ``annotation.services.json_limits`` (the API's body parsers use the same), each problem
named by the field as the file spells it.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from annotation.services.imports.errors import RowError
from annotation.services.json_limits import NUL_MESSAGE, text_problem, value_problem

T = TypeVar("T")


class Unstorable(RowError):
    """Some text of the row holds a NUL; :func:`storable` finds the field as the file names it."""

    def __init__(self) -> None:
        super().__init__(NUL_MESSAGE)


def storable(row: dict[str, Any], parse: Callable[[dict[str, Any]], T]) -> T:
    """``parse(row)``, with an :class:`Unstorable` it raises turned into a :class:`RowError`
    naming the field (the parsed record no longer knows where the NUL came from)."""
    try:
        return parse(row)
    except Unstorable as unstorable:
        problem = value_problem(row) or {"field": unstorable.field, "message": unstorable.message}
        raise RowError(problem["message"], problem["field"]) from None


def check_free_parts(
    metadata: dict[str, Any], gold: dict[str, Any] | None, response_metadata: Sequence[Any]
) -> None:
    """The free-form parts of a row, at their depth in the line (the parts of fixed shape are
    shallow): depth, numbers and text within the limits, or :class:`RowError`."""
    free = [(metadata, "metadata", 1), (gold, "gold", 1)]
    free += [(meta, f"responses[{i}].metadata", 3) for i, meta in enumerate(response_metadata)]
    for value, field_name, depth in free:
        if problem := value_problem(value, field_name, depth=depth):
            raise RowError(problem["message"], problem["field"])


def check_text(value: str, field_name: str) -> None:
    """One text field within the limits (no NUL, no lone surrogate), or :class:`RowError`."""
    if problem := text_problem(value):
        raise RowError(problem, field_name)
