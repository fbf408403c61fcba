"""Reading a sprint's live judgments for agreement: per judgment, one entry per response.

Each live judgment yields its *entries*: one per response it answers about, with the
response's key, its place in the judgment's ranking (none when unranked) and the judgment's
answer about it on every Likert and flag criterion. The columns follow the rubric's criteria and
a judgment's ranking places, never the sprint's response keys, so a sprint may use any number of
distinct keys (the first version had one column per key and criterion, and ~500 distinct keys
could no longer be read).

Two statements, read in one snapshot:

- the *ranked* statement, one row per judgment whose ranking names 1..``WIDE_PLACES``
  responses (every judgment of a preference rubric but ties): the key at each place of the
  ranking, and each criterion's answer about the response at that place. One row per judgment
  keeps the row count, which costs more than the JSON extraction itself, at the judgments';
- the *response* statement, one row per (judgment, response of its item) for the rest: ties, a
  rubric without preference, and rankings longer than ``WIDE_PLACES`` (items imported before
  ``CONCORD_IMPORT_MAX_RESPONSES``), where the place is looked up in the ranking.

PostgreSQL streams each with ``COPY (...) TO STDOUT`` as CSV, parsed by pyarrow's C++ reader
straight into arrays, keys dictionary-encoded as they are read; SQLite, the embedded default,
runs the same statements written with its JSON functions through the cursor.
"""

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from annotation.models import Criterion, CriterionKind, Judgment, Sprint
from reviews.services.agreement_sql import (
    WIDE_PLACES,
    live_judgments,
    ranking_width,
    read_tables,
    response_statement,
    wide_statement,
)

__all__ = ["JudgmentRows", "live_judgments", "read_rows"]


@dataclass
class JudgmentRows:
    """A sprint's live judgments as arrays. Per judgment row: ``item``, ``annotator`` (int64),
    ``seconds``, ``strength`` (float64, NaN when missing), ``tie`` (bool). Per entry, the
    entries of a row next to each other and rows in order: ``entry_row``, ``entry_key`` (index
    into ``keys``), ``entry_place`` (0 best, -1 unranked) and ``answers[name]`` for each
    ``score_<criterion id>`` (float64, NaN when missing) and ``flag_<criterion id>`` (bool).
    ``keys`` are the distinct response keys in code point order (Python's ``sorted``), which
    fixes which response of a pair is "first"."""

    item: np.ndarray
    annotator: np.ndarray
    seconds: np.ndarray
    strength: np.ndarray
    tie: np.ndarray
    entry_row: np.ndarray
    entry_key: np.ndarray
    entry_place: np.ndarray
    answers: dict[str, np.ndarray]
    keys: list[str]


def read_rows(
    sprint: Sprint, until: datetime | None = None, parallel: bool = True
) -> tuple[JudgmentRows, list[Criterion]]:
    """The live judgments of ``sprint`` (as it stood at ``until``) as :class:`JudgmentRows`,
    and the sprint's criteria. Reads without locking; both statements see one snapshot."""
    criteria = list(Criterion.objects.filter(rubric_id=sprint.rubric_id))
    using = Judgment.objects.db
    preference = next((c for c in criteria if c.kind == CriterionKind.PREFERENCE), None)
    width = min(ranking_width(sprint), WIDE_PLACES) if preference else 0
    statements = []
    if width:
        statements.append(wide_statement(sprint, criteria, width, until, using))
    statements.append(response_statement(sprint, criteria, width, until, using))
    tables = read_tables(statements, using, parallel)
    wide = tables[0] if width else None
    return _combine(wide, tables[-1], width, criteria), criteria


def answer_names(criteria: list[Criterion]) -> list[str]:
    names = []
    for criterion in criteria:
        if criterion.kind == CriterionKind.LIKERT:
            names.append(f"score_{criterion.pk}")
        elif criterion.kind == CriterionKind.FLAG:
            names.append(f"flag_{criterion.pk}")
    return names


def _combine(
    wide: pa.Table | None, long: pa.Table, width: int, criteria: list[Criterion]
) -> JudgmentRows:
    """The two tables as one :class:`JudgmentRows`: the ranked judgments first, their places
    as entries in place order, then the others' entries."""
    names = answer_names(criteria)
    key_columns = [wide.column(f"key_{place}") for place in range(width)] if wide else []
    keys, codes = _key_codes([*key_columns, long.column("key")])
    parts = []
    if wide is not None and wide.num_rows:
        parts.append(_wide_part(wide, codes[:width], width, names))
    parts.append(_long_part(long, codes[-1], names))
    offset, joined = 0, {}
    for part in parts:
        part["entry_row"] = part["entry_row"] + offset
        offset += len(part["item"])
        for name, values in part.items():
            joined.setdefault(name, []).append(values)
    columns = {name: np.concatenate(values) for name, values in joined.items()}
    return JudgmentRows(
        item=columns["item"],
        annotator=columns["annotator"],
        seconds=columns["seconds"],
        strength=columns["strength"],
        tie=columns["tie"],
        entry_row=columns["entry_row"],
        entry_key=columns["entry_key"],
        entry_place=columns["entry_place"],
        answers={name: columns[name] for name in names},
        keys=keys,
    )


def _judgment_columns(table: pa.Table, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    columns = {
        "item": _numbers(table.column("item")).astype(np.int64),
        "annotator": _numbers(table.column("annotator")).astype(np.int64),
        "seconds": _numbers(table.column("seconds")),
        "strength": _numbers(table.column("strength")),
        "tie": _truth(table.column("tie")),
    }
    return columns if rows is None else {name: values[rows] for name, values in columns.items()}


def _wide_part(table: pa.Table, codes: list[np.ndarray], width: int, names: list[str]) -> dict:
    """Entries of the ranked statement: place ``p`` of row ``r`` is entry ``r * width + p``,
    kept where the ranking has a key at that place."""
    part = _judgment_columns(table)
    matrix = np.stack(codes, axis=1).ravel()
    kept = matrix >= 0
    count = table.num_rows
    part["entry_row"] = np.repeat(np.arange(count, dtype=np.int64), width)[kept]
    part["entry_key"] = matrix[kept]
    part["entry_place"] = np.tile(np.arange(width, dtype=np.int64), count)[kept]
    for name in names:
        convert = _truth if name.startswith("flag_") else _numbers
        stacked = np.stack(
            [convert(table.column(f"{name}_{place}")) for place in range(width)], axis=1
        )
        part[name] = stacked.ravel()[kept]
    return part


def _long_part(table: pa.Table, codes: np.ndarray, names: list[str]) -> dict:
    """Entries of the response statement, grouped by judgment (numbered in id order); a
    judgment whose item has no responses is a row without entries."""
    ids = _numbers(table.column("judgment")).astype(np.int64)
    distinct, row_of = np.unique(ids, return_inverse=True)
    first = np.zeros(len(distinct), dtype=np.int64)
    first[row_of[::-1]] = np.arange(len(ids) - 1, -1, -1)
    part = _judgment_columns(table, first)
    order = np.argsort(row_of, kind="stable")
    order = order[codes[order] >= 0]
    part["entry_row"] = row_of[order].astype(np.int64)
    part["entry_key"] = codes[order]
    place = _numbers(table.column("place"))[order]
    part["entry_place"] = np.where(np.isnan(place), -1, place).astype(np.int64)
    for name in names:
        convert = _truth if name.startswith("flag_") else _numbers
        part[name] = convert(table.column(name))[order]
    return part


def _key_codes(columns: list[pa.ChunkedArray]) -> tuple[list[str], list[np.ndarray]]:
    """The sorted distinct keys of all ``columns`` and each column as indices into them (-1
    where null). Each column is dictionary-encoded, so only its distinct keys are looked at."""
    encoded = [column.combine_chunks() for column in columns]
    encoded = [
        array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
        for array in encoded
    ]
    keys = sorted({key for array in encoded for key in array.dictionary.to_pylist()})
    where = {key: code for code, key in enumerate(keys)}
    codes = []
    for array in encoded:
        lookup = np.array([where[key] for key in array.dictionary.to_pylist()] + [-1], np.int64)
        indices = array.indices.fill_null(len(lookup) - 1).to_numpy(zero_copy_only=False)
        codes.append(lookup[indices.astype(np.int64)])
    return keys, codes


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Numbers as float64, NaN where missing."""
    return column.cast(pa.float64()).to_numpy().astype(np.float64, copy=False)


def _truth(column: pa.ChunkedArray) -> np.ndarray:
    """Booleans, missing as false."""
    return column.cast(pa.bool_()).fill_null(False).to_numpy().astype(bool, copy=False)
