"""Reading a sprint's live judgments for agreement: per judgment, one entry per response.

Each live judgment yields its *entries*: one per response it answers about, with the
response's key, its place in the judgment's ranking (none when unranked) and the judgment's
answer about it on every Likert and flag criterion. The columns follow the rubric's criteria and
a judgment's ranking places, never the sprint's response keys, so a sprint may use any number of
distinct keys (the first version had one column per key and criterion, and ~500 distinct keys
could no longer be read).

Judgments submitted with an agreement record are read from those records
(:mod:`reviews.services.agreement_codes_read`: one narrow statement, no JSON); when any live
judgment of the sprint has none, or one coded for other criteria, the JSON answers are read
instead, with two statements in one snapshot:

- the *wide* statement, one row per live judgment: the key at each of the first
  ``WIDE_PLACES`` places of its ranking, and each criterion's answer about the response at that
  place. One row per judgment keeps the row count, which costs more than the JSON extraction
  itself (in the database and in the client), at the judgments' count;
- the *response* statement, one row per (judgment, response of its item), for the judgments the
  wide one could not answer whole, by id: ties (no ranking), a rubric without preference (then
  for every judgment), and rankings longer than ``WIDE_PLACES`` (items imported before
  ``CONCORD_IMPORT_MAX_RESPONSES``), where the place is looked up in the ranking.

PostgreSQL streams each with ``COPY (...) TO STDOUT`` as CSV, parsed by pyarrow's C++ reader
straight into arrays, keys dictionary-encoded as they are read; SQLite, the embedded default,
runs the same statements written with its JSON functions through the cursor.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from annotation.models import Criterion, CriterionKind, Judgment, Sprint
from reviews.services.agreement_codes_read import codes_statement, read_codes
from reviews.services.agreement_sql import (
    WIDE_PLACES,
    Statement,
    live_judgments,
    ranking_width,
    response_statement,
    snapshot,
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
    fixes which response of a pair is "first". Read from the judgments' agreement records,
    ``item_keys`` is set and ``entry_key`` is instead the response's rank among its own item's
    keys in that order (the same pairs come first, and units sort the same), ``keys`` mere
    placeholders, one per rank, and ``item_keys(item id)`` the item's keys in that order."""

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
    item_keys: Callable[[int], list[str]] | None = None


def read_rows(
    sprint: Sprint,
    until: datetime | None = None,
    parallel: bool = True,
    ran: list[Statement] | None = None,
    *,
    codes: bool = True,
) -> tuple[JudgmentRows, list[Criterion]]:
    """The live judgments of ``sprint`` (as it stood at ``until``) as :class:`JudgmentRows`,
    and the sprint's criteria. From the judgments' agreement records when every live one has
    one coded for the sprint's criteria (and ``codes``), else from their JSON answers: the
    figures built on either are the same. Reads without locking; the JSON statements see one
    snapshot. The statements run are appended to ``ran`` when given (the benchmark times them
    bare; the records' statement is named by its one column, ``codes``)."""
    criteria = list(Criterion.objects.filter(rubric_id=sprint.rubric_id))
    using = Judgment.objects.db
    names = answer_names(criteria)
    if codes:
        with snapshot(using, parallel) as read:
            coded = read_codes(sprint, criteria, names, until, using, parallel)
            if ran is not None:
                ran.append((*codes_statement(sprint, until, using), ["codes"]))
            if coded is not None:
                fields, missing = coded
                if len(missing):
                    # Judgments stored before records: their JSON, a row per response.
                    statement = response_statement(sprint, criteria, until, using, missing.tolist())
                    if ran is not None:
                        ran.append(statement)
                    fields = _with_json_rows(fields, _from_responses(read(statement), names))
                # With no item of two responses, whether the strength criterion is reported
                # depends on the sprint's distinct keys, which records do not hold.
                if len(fields["keys"]) >= 2:
                    return JudgmentRows(**fields), criteria
    preference = any(c.kind == CriterionKind.PREFERENCE for c in criteria)
    width = min(ranking_width(sprint), WIDE_PLACES) if preference else 0
    with snapshot(using, parallel, ran) as read:
        if not width:
            table = read(response_statement(sprint, criteria, until, using))
            return _from_responses(table, names), criteria
        wide = read(wide_statement(sprint, criteria, width, until, using))
        # Ties, and rankings longer than the columns, are read a row per response.
        ranked = ~_truth(wide.column("key_0").is_null())
        fits = ranked & ~_truth(wide.column("longer"))
        rest = _ids(wide.column("judgment"))[~fits]
        table = None
        if len(rest):
            table = read(response_statement(sprint, criteria, until, using, rest.tolist()))
    return _combine(wide, table, fits, width, names), criteria


def _with_json_rows(fields: dict, rows: JudgmentRows) -> dict:
    """``fields`` read from records, followed by ``rows`` read from JSON (a row per response of
    the item, so each row's entries are its item's responses), whose keys become ranks among
    their own row's keys like the records' ones."""
    order = np.lexsort((rows.entry_key, rows.entry_row))
    grouped = rows.entry_row[order]
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - np.searchsorted(grouped, grouped)
    most = int(np.bincount(rows.entry_row).max()) if len(rows.entry_row) else 0
    offset = len(fields["item"])
    merged = {
        name: np.concatenate([fields[name], getattr(rows, name)])
        for name in ("item", "annotator", "seconds", "strength", "tie", "entry_place")
    }
    return {
        **merged,
        "entry_row": np.concatenate([fields["entry_row"], rows.entry_row + offset]),
        "entry_key": np.concatenate([fields["entry_key"], rank]),
        "answers": {
            name: np.concatenate([values, rows.answers[name]])
            for name, values in fields["answers"].items()
        },
        "keys": [f"#{n}" for n in range(max(len(fields["keys"]), most))],
        "item_keys": fields["item_keys"],
    }


def answer_names(criteria: list[Criterion]) -> list[str]:
    names = []
    for criterion in criteria:
        if criterion.kind == CriterionKind.LIKERT:
            names.append(f"score_{criterion.pk}")
        elif criterion.kind == CriterionKind.FLAG:
            names.append(f"flag_{criterion.pk}")
    return names


def _combine(
    wide: pa.Table, responses: pa.Table | None, fits: np.ndarray, width: int, names: list[str]
) -> JudgmentRows:
    """Rows are the wide statement's, those it answered whole first: their places become
    entries in place order; the others' entries come from ``responses``."""
    columns = [wide.column(f"key_{place}") for place in range(width)]
    if responses is not None:
        columns.append(responses.column("key"))
    keys, codes = key_codes(columns)
    whole = bool(fits.all())
    fitted = None if whole else np.flatnonzero(fits)
    order = None if whole else np.r_[fitted, np.flatnonzero(~fits)]

    def rows_that_fit(values: np.ndarray) -> np.ndarray:
        return values if fitted is None else values[fitted]

    count = len(fits) if whole else len(fitted)
    matrix = np.stack([rows_that_fit(code) for code in codes[:width]], axis=1).ravel()
    kept = matrix >= 0
    everywhere = bool(kept.all())

    def kept_only(values: np.ndarray) -> np.ndarray:
        return values if everywhere else values[kept]

    entries = {
        "entry_row": kept_only(np.repeat(np.arange(count, dtype=np.int64), width)),
        "entry_key": kept_only(matrix),
        "entry_place": kept_only(np.tile(np.arange(width, dtype=np.int64), count)),
    }
    for name in names:
        convert = _truth if name.startswith("flag_") else _numbers
        stacked = [rows_that_fit(convert(wide.column(f"{name}_{place}"))) for place in range(width)]
        entries[name] = kept_only(np.stack(stacked, axis=1).ravel())
    if responses is not None:
        rest = _ids(wide.column("judgment"))[order[count:]]
        sorter = np.argsort(rest)
        ids = _ids(responses.column("judgment"))
        row_of = count + sorter[np.searchsorted(rest, ids, sorter=sorter)]
        more = _entries(responses, codes[-1], row_of, names)
        entries = {name: np.r_[entries[name], more[name]] for name in entries}
    return _rows(_judgment_columns(wide, order), entries, keys, names)


def _from_responses(table: pa.Table, names: list[str]) -> JudgmentRows:
    """Rows and entries of the response statement alone, judgments numbered in id order; a
    judgment whose item has no responses is a row without entries."""
    keys, (codes,) = key_codes([table.column("key")])
    ids = _ids(table.column("judgment"))
    distinct, row_of = np.unique(ids, return_inverse=True)
    first = np.zeros(len(distinct), dtype=np.int64)
    first[row_of[::-1]] = np.arange(len(ids) - 1, -1, -1)
    entries = _entries(table, codes, row_of, names)
    return _rows(_judgment_columns(table, first), entries, keys, names)


def _entries(table: pa.Table, codes: np.ndarray, row_of: np.ndarray, names: list[str]) -> dict:
    """The response statement's rows that name a response, as entries sorted by row."""
    order = np.argsort(row_of, kind="stable")
    order = order[codes[order] >= 0]
    place = _numbers(table.column("place"))[order]
    entries = {
        "entry_row": row_of[order].astype(np.int64),
        "entry_key": codes[order],
        "entry_place": np.where(np.isnan(place), -1, place).astype(np.int64),
    }
    for name in names:
        convert = _truth if name.startswith("flag_") else _numbers
        entries[name] = convert(table.column(name))[order]
    return entries


def _rows(columns: dict, entries: dict, keys: list[str], names: list[str]) -> JudgmentRows:
    return JudgmentRows(
        **columns,
        entry_row=entries["entry_row"],
        entry_key=entries["entry_key"],
        entry_place=entries["entry_place"],
        answers={name: entries[name] for name in names},
        keys=keys,
    )


def _judgment_columns(table: pa.Table, rows: np.ndarray | None) -> dict[str, np.ndarray]:
    """The per-judgment columns of ``table``, for ``rows`` in that order (all, when None)."""
    columns = {
        "item": _ids(table.column("item")),
        "annotator": _ids(table.column("annotator")),
        "seconds": _numbers(table.column("seconds")),
        "strength": _numbers(table.column("strength")),
        "tie": _truth(table.column("tie")),
    }
    return columns if rows is None else {name: c[rows] for name, c in columns.items()}


def key_codes(columns: list[pa.ChunkedArray]) -> tuple[list[str], list[np.ndarray]]:
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


def _ids(column: pa.ChunkedArray) -> np.ndarray:
    """Ids (never missing) as int64."""
    return column.cast(pa.int64()).to_numpy().astype(np.int64, copy=False)


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Numbers as float64, NaN where missing."""
    return column.cast(pa.float64()).to_numpy().astype(np.float64, copy=False)


def _truth(column: pa.ChunkedArray) -> np.ndarray:
    """Booleans, missing as false."""
    return column.cast(pa.bool_()).fill_null(False).to_numpy().astype(bool, copy=False)
