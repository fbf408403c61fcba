"""Whole-file checks made before any row is read, so that a file of the wrong kind is refused
with one message that names the real problem (and how to fix it) instead of a problem per line
that blames the symptoms: a spreadsheet, a UTF-16 file, one JSON array or a pretty-printed JSON
document where JSON Lines is expected, CSV where JSON is expected and the reverse, and a CSV
header with a wrong separator, a missing or misspelled column or a single response column.
"""

import difflib
from pathlib import Path

from annotation.services.imports.errors import ImportProblem

HEAD_BYTES = 64 * 1024
TEXT_SUFFIXES = {"", ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt"}
BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx or OpenDocument spreadsheet is one)",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word file",
    b"PAR1": "a Parquet file",
    b"\x1f\x8b": "a gzip-compressed file",
    b"%PDF": "a PDF",
}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CONCORD_COLUMNS = ("external_id", "prompt", "context", "metadata", "source", "stratum", "tags",
                   "gold_ranking")  # fmt: skip
PAIR_COLUMNS = ("chosen", "rejected")
KNOWN = "external_id, prompt, response_<id>, model_<id>, context, metadata, source, stratum, " \
    "tags, gold_ranking (or TRL's prompt, chosen, rejected)"  # fmt: skip
WANTED = "JSON Lines (.jsonl, one item per line) or CSV (.csv, UTF-8, comma-separated)"


def _first_line(head: bytes) -> bytes:
    body = head.removeprefix(b"\xef\xbb\xbf")
    for line in body.splitlines():
        if line.strip():
            return line.strip()
    return b""


def file_problem(filename: str, head: bytes, file_format: str) -> ImportProblem | None:
    """The one problem that makes the whole file unreadable as ``file_format``, or None.
    ``head`` is the file's first bytes (up to ``HEAD_BYTES``)."""
    suffix = Path(filename).suffix.lower()
    for signature, what in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            return ImportProblem(
                0, f"{filename or 'the file'} is {what}, not text: save it as {WANTED}"
            )
    if head.startswith(UTF16_BOMS):
        return ImportProblem(
            1, "the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8"
        )
    if b"\x00" in head:
        return ImportProblem(0, f"the file is binary (it holds NUL bytes), not {WANTED}")
    if suffix not in TEXT_SUFFIXES:
        return ImportProblem(0, f"a {suffix} file cannot be imported: save it as {WANTED}")
    first = _first_line(head)
    if file_format == "jsonl":
        return _jsonl_problem(first)
    if first.startswith(b"{"):
        return ImportProblem(
            1, "the first line is a JSON object, not a CSV header: name the file .jsonl or choose "
            "JSON Lines",
        )  # fmt: skip
    return None


def _jsonl_problem(first: bytes) -> ImportProblem | None:
    if first.startswith(b"["):
        return ImportProblem(
            1, "the file is one JSON array, not JSON Lines: put each item on a line of its own "
            "(for example: jq -c '.[]' items.json > items.jsonl)",
        )  # fmt: skip
    if first == b"{" or (first.startswith(b"{") and first.endswith(b",")):
        return ImportProblem(
            1, "the first item spans several lines (pretty-printed JSON); JSON Lines needs each "
            "item on one line (for example: jq -c . items.json > items.jsonl)",
        )  # fmt: skip
    if first and not first.startswith(b"{") and b"," in first:
        return ImportProblem(
            1, "the first line looks like a CSV header, not JSON: name the file .csv or choose CSV"
        )
    return None


def header_problems(header: list[str], line: int) -> list[ImportProblem]:
    """What is wrong with a CSV header (``line`` is its line number), every problem at once;
    an empty list when rows can be read under it."""
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        separator = "tabs" if "\t" in header[0] else "';'"
        return [
            ImportProblem(
                line, f"the header is one column {header[0]!r}: the fields seem to be "
                f"separated by {separator}; save the file comma-separated",
            )
        ]  # fmt: skip
    if any(column in header for column in PAIR_COLUMNS):
        return []  # TRL's columns: the row parser names what is missing
    problems = []
    for column in header:
        if column in CONCORD_COLUMNS or column.startswith(("response_", "model_")):
            continue
        close = difflib.get_close_matches(column, [*CONCORD_COLUMNS, "response_a"], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(
            ImportProblem(line, f"unknown column {column!r}{hint}; known: {KNOWN}", column)
        )
    if "prompt" not in header:
        have = ", ".join(header)
        problems.append(
            ImportProblem(line, f"the header has no prompt column (it has: {have})", "prompt")
        )
    responses = [column for column in header if column.startswith("response_")]
    if len(responses) < 2:
        have = ", ".join(responses) or "none"
        problems.append(
            ImportProblem(
                line, f"the header has {len(responses)} response column(s) ({have}); each item "
                "needs at least two to compare: add response_a and response_b",
                "response_b" if responses else "response_a",
            )
        )  # fmt: skip
    return problems
