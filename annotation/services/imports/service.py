"""The import service: the single door that the API, the admin and the command all use."""

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from annotation.models import Sprint, SprintStatus
from annotation.services.audit import record_event
from annotation.services.imports.errors import ImportProblem, ImportRejected, RowError
from annotation.services.imports.readers import ProgressCallback, read_csv, read_jsonl
from annotation.services.imports.records import parse_row
from annotation.services.imports.sniff import HEAD_BYTES, file_problem
from annotation.services.imports.writer import ItemWriter

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 1024 * 1024
MAX_LISTED_PROBLEMS = 1000
FORMATS = ("jsonl", "csv")


@dataclass(frozen=True)
class ImportResult:
    created: int
    unchanged: int
    lines: int


def detect_format(filename: str, head: bytes) -> str:
    """``csv`` or ``jsonl``: by extension, else by the first non-blank byte."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if stripped.startswith(b"{") else "csv"


def import_items(
    sprint: Sprint,
    stream: BinaryIO,
    *,
    filename: str = "",
    file_format: str | None = None,
    actor: AbstractBaseUser | None = None,
    on_bytes: ProgressCallback | None = None,
    chunk_size: int = 2000,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> ImportResult:
    """Import every item of ``stream`` into ``sprint``, all or nothing.

    Guarantees: a file that cannot be read as ``file_format`` at all (a spreadsheet, UTF-16,
    one JSON array, ...; annotation.services.imports.sniff) is refused with that one problem;
    otherwise the whole file is validated; if any line is bad, :class:`ImportRejected` lists
    every problem by line (the first ``MAX_LISTED_PROBLEMS``) and nothing is stored. Importing
    the same file again creates nothing and counts each item as unchanged. The sprint row is
    locked for the duration, so two imports into one sprint run one after the other. Memory
    holds one chunk of records, never the file.
    """
    head = stream.read(min(HEAD_BYTES, max_line_bytes))
    stream.seek(0)
    if file_format is None:
        file_format = detect_format(filename, head)
    if file_format not in FORMATS:
        raise ImportRejected(
            [ImportProblem(0, f"unknown format {file_format!r}; use jsonl or csv")]
        )
    unreadable = file_problem(filename, head, file_format)
    if unreadable is not None:
        raise ImportRejected([unreadable])
    reader = read_jsonl if file_format == "jsonl" else read_csv
    flat = file_format == "csv"
    digest = hashlib.sha256()

    def count(n: int) -> None:
        if on_bytes:
            on_bytes(n)

    problems: list[ImportProblem] = []
    total_problems = 0
    lines = 0
    rows = 0

    def note(problem: ImportProblem) -> None:
        nonlocal total_problems
        total_problems += 1
        if len(problems) < MAX_LISTED_PROBLEMS:
            problems.append(problem)

    with transaction.atomic():
        # NO KEY UPDATE: serialises imports into this sprint without blocking the foreign-key
        # checks (KEY SHARE) of annotators submitting judgments in it meanwhile.
        sprint = Sprint.objects.select_for_update(no_key=True).get(pk=sprint.pk)
        if sprint.status == SprintStatus.CLOSED:
            raise ImportRejected([ImportProblem(0, f"sprint {sprint.slug!r} is closed")])
        with ItemWriter(sprint, chunk_size=chunk_size) as writer:
            for line, row in reader(_Hashing(stream, digest), max_line_bytes, count):
                lines += 1
                if isinstance(row, ImportProblem):
                    note(row)
                    continue
                try:
                    record = parse_row(row, flat=flat)
                except RowError as exc:
                    note(ImportProblem(line, exc.message, exc.field))
                    continue
                rows += 1
                for problem in writer.add(line, record):
                    note(problem)
            for problem in writer.close():
                note(problem)
        if not rows and not total_problems:
            note(ImportProblem(0, "the file holds no items"))
        if total_problems:
            problems.sort(key=lambda p: p.line)
            # Raising inside the atomic block rolls back every chunk already written.
            raise ImportRejected(problems, total_problems)
        record_event(
            actor,
            "items.imported",
            sprint,
            sprint=sprint,
            changes={
                "filename": filename,
                "format": file_format,
                "sha256": digest.hexdigest(),
                "created": writer.created,
                "unchanged": writer.unchanged,
            },
        )
    log.info(
        "imported %s into %s: %d created, %d unchanged",
        filename,
        sprint.slug,
        writer.created,
        writer.unchanged,
    )
    return ImportResult(created=writer.created, unchanged=writer.unchanged, lines=lines)


class _Hashing:
    """Wraps a binary stream so the file's SHA-256 is computed while it is read, for the audit
    event, without a second pass."""

    def __init__(self, stream: BinaryIO, digest: "hashlib._Hash") -> None:
        self._stream = stream
        self._digest = digest

    def readline(self, limit: int = -1) -> bytes:
        data = self._stream.readline(limit)
        self._digest.update(data)
        return data
