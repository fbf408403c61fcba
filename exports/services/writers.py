"""Writing rows to JSONL, Parquet or CSV, a batch at a time, with a fixed column order.

Nothing in a file depends on when or where it was written: columns in a fixed order, no
timestamps, Parquet with a fixed schema per kind. The same rows give the same bytes.

- JSONL: one orjson object a line, keys in the kind's column order.
- Parquet: row groups of ``BATCH_ROWS`` rows under a fixed schema (zstd); chat messages are lists
  of ``{role, content}`` structs; free-form JSON (answers, scores, context, responses) is JSON text.
  The grouped form's ``rejected`` is ``list<string>`` and its ``margin`` ``list<double>``.
- CSV, for spreadsheets (RFC 4180: comma, double quotes, CRLF): a header row, then one row per
  record; lists and objects are JSON text (the grouped form's ``rejected`` cell is a JSON array
  of texts, ``["b", "c"]``, and its ``margin`` cell ``[0.5,1.0]``: one cell per column, so the
  file keeps one row per item, and ``json.loads`` gives the list back).
  A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and a
  leading tab or carriage return can hide one, so every such text cell gets a leading apostrophe
  (``'=1+1``), which spreadsheets show as text. Numbers are written as numbers and never
  prefixed (a negative margin stays ``-0.5``); a reader that wants the original text of a
  prefixed cell drops the apostrophe.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from exports.services.production_rows import PROVENANCE_COLUMNS

Row = dict[str, Any]
BATCH_ROWS = 10_000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
JSON_TEXT_COLUMNS = frozenset({"context", "responses", "scores", "answers"})

_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def _text_or_messages(conversational: bool) -> pa.DataType:
    return _MESSAGES if conversational else pa.string()


def parquet_schema(kind: str, form: str = "standard", provenance: bool = False) -> pa.Schema:
    """The fixed schema of a kind in a form (``standard``, ``conversational``, ``grouped``), so
    that an empty batch or a null in the first rows cannot change a column's type.
    ``provenance``: a preference export with production pairs, which adds ``origin``,
    ``source``, ``event_id`` and ``kind`` (exports.services.production_rows)."""
    conversational = form == "conversational"
    if kind == "preference":
        t = _text_or_messages(conversational)
        grouped = form == "grouped"
        rejected = pa.list_(pa.string()) if grouped else t
        margin = pa.list_(pa.float64()) if grouped else pa.float64()
        extra = [(name, pa.string()) for name in PROVENANCE_COLUMNS]
        return pa.schema([
            ("prompt", t), ("chosen", t), ("rejected", rejected), ("margin", margin),
            ("agreement", pa.float64()), ("item_id", pa.int64()), ("split", pa.string()),
            *(extra if provenance else []),
        ])  # fmt: skip
    if kind == "consensus":
        return pa.schema([
            ("item_id", pa.int64()), ("external_id", pa.string()), ("sprint_id", pa.int64()),
            ("prompt", _text_or_messages(conversational)), ("context", pa.string()),
            ("responses", pa.string()), ("ranking", pa.list_(pa.string())), ("tie", pa.bool_()),
            ("method", pa.string()), ("confidence", pa.float64()), ("agreement", pa.float64()),
            ("strength", pa.float64()), ("scores", pa.string()), ("judgments", pa.int64()),
            ("split", pa.string()),
        ])  # fmt: skip
    return pa.schema([
        ("judgment_id", pa.int64()), ("item_id", pa.int64()), ("external_id", pa.string()),
        ("sprint_id", pa.int64()), ("annotator", pa.string()), ("rubric", pa.string()),
        ("answers", pa.string()), ("seconds", pa.float64()), ("revision_of", pa.int64()),
        ("created_at", pa.string()),
    ])  # fmt: skip


def batches(rows: Iterable[Row]) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_ROWS)):
        yield batch


def write_jsonl(rows: Iterable[Row], out: BinaryIO) -> None:
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for batch in batches(rows):
        out.write(b"".join([dumps(row, option=newline) for row in batch]))


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def write_parquet(rows: Iterable[Row], out: BinaryIO, schema: pa.Schema) -> None:
    """One row group per batch; ``out`` is left open for the caller to fsync."""
    names = schema.names
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        wrote = False
        for batch in batches(rows):
            columns = {}
            for name in names:
                values = [row[name] for row in batch]
                if name in JSON_TEXT_COLUMNS:
                    values = [_json_text(v) for v in values]
                columns[name] = values
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            wrote = True
        if not wrote:
            writer.write_table(schema.empty_table())


def defuse_cell(value: Any) -> Any:
    """A cell as a spreadsheet should show it: text that could run as a formula is prefixed."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        value = orjson.dumps(value).decode()
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_csv(rows: Iterable[Row], out: BinaryIO, columns: tuple[str, ...]) -> None:
    buffer = io.StringIO()
    # RFC 4180 line ends; a field holding a line break of either kind is quoted.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for batch in batches(rows):
        writer.writerows([[defuse_cell(row[c]) for c in columns] for row in batch])
        out.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
    out.write(buffer.getvalue().encode())
