"""Readers: an uploaded file in, numbered rows out, one line in memory at a time.

Lines are read as bytes with a length limit and decoded strictly as UTF-8, so that a file in
another encoding or with one enormous line yields a problem naming the line instead of an
exception or an out-of-memory worker.
"""

import csv
from collections.abc import Callable, Iterator
from typing import BinaryIO

import orjson

from annotation.services.imports.errors import ImportProblem
from annotation.services.imports.sniff import header_problems

Row = dict[str, object]
ProgressCallback = Callable[[int], None]

_SKIP_CHUNK = 1024 * 1024
EMPTY_RESPONSES = "\0empty response columns"
"""The key under which a CSV row carries its empty ``response_<id>`` cells (no column has it),
so that a row left with one response names the empty column."""


def iter_raw_lines(
    stream: BinaryIO, max_line_bytes: int, on_bytes: ProgressCallback | None = None
) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, line)``; ``line`` is ``None`` for a line over ``max_line_bytes``,
    whose bytes are skipped without being kept."""
    number = 0
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        number += 1
        consumed = len(line)
        too_long = len(line) > max_line_bytes
        if too_long and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(_SKIP_CHUNK)
                consumed += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        if on_bytes:
            on_bytes(consumed)
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        yield number, None if too_long else line


def _decode(number: int, line: bytes) -> str | ImportProblem:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ImportProblem(
            number,
            f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1}); "
            "save the file as UTF-8",
        )


def _too_long(number: int, max_line_bytes: int) -> ImportProblem:
    return ImportProblem(number, f"line is longer than the limit of {max_line_bytes:,} bytes")


def read_jsonl(
    stream: BinaryIO, max_line_bytes: int, on_bytes: ProgressCallback | None = None
) -> Iterator[tuple[int, Row | ImportProblem]]:
    """Rows of a JSON Lines file; blank lines are skipped."""
    for number, line in iter_raw_lines(stream, max_line_bytes, on_bytes):
        if line is None:
            yield number, _too_long(number, max_line_bytes)
            continue
        if not line.strip():
            continue
        text = _decode(number, line)
        if isinstance(text, ImportProblem):
            yield number, text
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield number, ImportProblem(number, f"not valid JSON: {exc}")
            continue
        if not isinstance(value, dict):
            yield number, ImportProblem(number, "each line must be a JSON object")
            continue
        yield number, value


def read_csv(
    stream: BinaryIO, max_line_bytes: int, on_bytes: ProgressCallback | None = None
) -> Iterator[tuple[int, Row | ImportProblem]]:
    """Rows of a CSV file with a header line, as ``{column: text}``; line numbers count the
    header as line 1 and are those of the row's first physical line."""
    problems: list[ImportProblem] = []

    def text_lines() -> Iterator[str]:
        for number, line in iter_raw_lines(stream, max_line_bytes, on_bytes):
            if line is None:
                problems.append(_too_long(number, max_line_bytes))
                yield "\n"
                continue
            text = _decode(number, line)
            if isinstance(text, ImportProblem):
                problems.append(text)
                yield "\n"
                continue
            yield text

    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(max_line_bytes, previous_limit))
    try:
        reader = csv.reader(text_lines(), strict=True)
        header: list[str] | None = None
        first_line = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield reader.line_num, ImportProblem(reader.line_num, f"not valid CSV: {exc}")
                first_line = reader.line_num + 1
                continue
            while problems:
                problem = problems.pop(0)
                yield problem.line, problem
            start, first_line = first_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                if len(set(header)) != len(header):
                    yield start, ImportProblem(start, "the header repeats a column name")
                    return
                wrong = header_problems(header, start)
                if wrong:  # every row would repeat them: name them once, at the header
                    for problem in wrong:
                        yield start, problem
                    return
                continue
            if len(cells) != len(header):
                yield (
                    start,
                    ImportProblem(
                        start, f"has {len(cells)} cells but the header has {len(header)} columns"
                    ),
                )
                continue
            row: Row = {name: cell for name, cell in zip(header, cells, strict=True) if cell}
            empty = [
                name
                for name, cell in zip(header, cells, strict=True)
                if not cell and name.startswith("response_")
            ]
            if empty:
                row[EMPTY_RESPONSES] = empty
            yield start, row
        while problems:
            problem = problems.pop(0)
            yield problem.line, problem
    finally:
        csv.field_size_limit(previous_limit)
