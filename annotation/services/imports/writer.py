"""Writing parsed records in chunks.

Each chunk is compared with what the sprint already holds: an item whose external id exists
with the same content digest counts as unchanged; the same id with other content is a problem
(items are immutable once imported, since judgments refer to them). New items, their responses
and gold answers go in with one bulk statement per table per chunk.
"""

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

import orjson
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from annotation.models import GoldAnswer, Item, Response, Sprint
from annotation.services.imports.errors import ImportProblem
from annotation.services.imports.records import ItemRecord


@dataclass
class PendingRecord:
    line: int
    record: ItemRecord


@dataclass
class ChunkOutcome:
    problems: list[ImportProblem]
    created: int
    unchanged: int


class ItemWriter:
    """Buffers records and writes them a chunk at a time; use it as a context manager.

    An external id repeated anywhere in the file is a problem: ``seen`` keeps a 64-bit digest of
    each id (about 50 bytes an item in a Python set), the only state that grows with the file.
    The caller's transaction rolls everything back if any problem was found.

    On PostgreSQL a chunk is written by one background thread on the caller's own connection
    (so inside the caller's transaction) while the caller parses the next chunk: parsing is
    Python's work and COPY is mostly the server's, so the two overlap. At most one chunk is in
    flight, and ``__exit__`` waits for it, so nothing is written after the caller's block ends.
    """

    def __init__(self, sprint: Sprint, chunk_size: int = 2000) -> None:
        self.sprint = sprint
        self.chunk_size = chunk_size
        self.pending: list[PendingRecord] = []
        self.created = 0
        self.unchanged = 0
        self.seen: set[int] = set()
        # The caller holds the sprint's row lock, so if the sprint is empty now, nothing but
        # this import can add to it and the per-chunk lookup of existing ids can be skipped.
        self.sprint_had_items = Item.objects.filter(sprint=sprint).exists()
        self._db = connections[DEFAULT_DB_ALIAS]
        self._background: ThreadPoolExecutor | None = None
        self._in_flight: Future[ChunkOutcome] | None = None

    def __enter__(self) -> "ItemWriter":
        if self._db.vendor == "postgresql":
            # Django declares foreign keys DEFERRABLE INITIALLY DEFERRED, which would queue one
            # check per row and run them all at COMMIT, after the overlap with parsing is over.
            # Checked at each COPY instead, they run on the server while Python parses.
            with self._db.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self._db.inc_thread_sharing()
            self._background = ThreadPoolExecutor(1, thread_name_prefix="concord-import")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._background is None:
            return
        try:
            if self._in_flight is not None:
                self._in_flight.exception()  # wait; an error is re-raised by close() or moot
        finally:
            self._background.shutdown(wait=True)
            self._background = None
            self._db.dec_thread_sharing()

    def add(self, line: int, record: ItemRecord) -> list[ImportProblem]:
        self.pending.append(PendingRecord(line, record))
        if len(self.pending) >= self.chunk_size:
            return self.flush()
        return []

    def flush(self) -> list[ImportProblem]:
        """Send the buffered chunk on its way; returns the problems known so far."""
        chunk, self.pending = self.pending, []
        problems, unique = self._drop_repeats(chunk)
        problems += self._collect()
        if unique:
            if self._background is not None:
                self._in_flight = self._background.submit(self._write_chunk, unique)
            else:
                problems += self._record(self._write_chunk(unique))
        return problems

    def close(self) -> list[ImportProblem]:
        """Write what is buffered and wait for it; returns the remaining problems."""
        return self.flush() + self._collect()

    def _collect(self) -> list[ImportProblem]:
        if self._in_flight is None:
            return []
        outcome, self._in_flight = self._in_flight.result(), None
        return self._record(outcome)

    def _record(self, outcome: ChunkOutcome) -> list[ImportProblem]:
        self.created += outcome.created
        self.unchanged += outcome.unchanged
        return outcome.problems

    def _drop_repeats(
        self, chunk: list[PendingRecord]
    ) -> tuple[list[ImportProblem], list[PendingRecord]]:
        problems: list[ImportProblem] = []
        unique: list[PendingRecord] = []
        in_chunk: dict[str, int] = {}
        for pending in chunk:
            external_id = pending.record.external_id
            key = int.from_bytes(hashlib.blake2b(external_id.encode(), digest_size=8).digest())
            if key in self.seen:
                earlier = in_chunk.get(external_id)
                where = f"on line {earlier}" if earlier else "earlier in this file"
                problems.append(
                    ImportProblem(
                        pending.line,
                        f"external_id {external_id!r} already appears {where}",
                        "external_id",
                    )
                )
                continue
            self.seen.add(key)
            in_chunk[external_id] = pending.line
            unique.append(pending)
        return problems, unique

    def _write_chunk(self, chunk: list[PendingRecord]) -> ChunkOutcome:
        existing = self._existing_digests([p.record.external_id for p in chunk])
        outcome = ChunkOutcome([], 0, 0)
        fresh: list[ItemRecord] = []
        for pending in chunk:
            digest = existing.get(pending.record.external_id)
            if digest is None:
                fresh.append(pending.record)
            elif digest == pending.record.content_sha256:
                outcome.unchanged += 1
            else:
                outcome.problems.append(
                    ImportProblem(
                        pending.line,
                        f"external_id {pending.record.external_id!r} already exists in this "
                        "sprint with different content; imported items are never changed, so "
                        "give the new version another external_id",
                        "external_id",
                    )
                )
        if fresh:
            if self._db.vendor == "postgresql":
                _copy_into_postgresql(self._db, self.sprint, fresh)
            else:
                _bulk_create(self.sprint, fresh)
            outcome.created = len(fresh)
        return outcome

    def _existing_digests(self, external_ids: list[str]) -> dict[str, str]:
        if not self.sprint_had_items:
            return {}
        if self._db.vendor == "postgresql":
            with self._db.cursor() as cursor:
                table = Item._meta.db_table  # from the model, never from input
                cursor.execute(
                    f"SELECT external_id, content_sha256 FROM {table} "  # noqa: S608
                    "WHERE sprint_id = %s AND external_id = ANY(%s)",
                    [self.sprint.pk, external_ids],
                )
                return dict(cursor.fetchall())
        return dict(
            Item.objects.filter(sprint=self.sprint, external_id__in=external_ids).values_list(
                "external_id", "content_sha256"
            )
        )


def _copy_into_postgresql(db, sprint: Sprint, records: list[ItemRecord]) -> None:
    """PostgreSQL's COPY, several times faster than ``bulk_create`` here: Django's multi-row
    INSERT on PostgreSQL sends each column as an array, and adapting those arrays in Python
    costs more than the database's work. Item ids are reserved from the table's sequence first,
    so responses can name their item without a round trip per row. Runs on ``db`` explicitly,
    never on ``django.db.connection``, because it may run on the writer's background thread."""
    now = timezone.now()
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Item._meta.db_table, len(records)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        raw = cursor.cursor
        with raw.copy(
            f"COPY {Item._meta.db_table} (id, sprint_id, external_id, prompt, context, metadata, "
            "source, stratum, is_gold, content_sha256, created_at) FROM STDIN"
        ) as copy:
            for item_id, r in zip(ids, records, strict=True):
                copy.write_row(
                    (
                        item_id, sprint.pk, r.external_id, _json(r.prompt), _json(r.context),
                        _json(r.metadata), r.source, r.stratum, r.gold is not None,
                        r.content_sha256, now,
                    )
                )  # fmt: skip
        with raw.copy(
            f"COPY {Response._meta.db_table} (item_id, key, text, model_name, model_version, "
            "metadata, position) FROM STDIN"
        ) as copy:
            for item_id, r in zip(ids, records, strict=True):
                for position, response in enumerate(r.responses):
                    copy.write_row(
                        (
                            item_id, response.key, response.text, response.model_name,
                            response.model_version, _json(response.metadata), position,
                        )
                    )  # fmt: skip
        gold = [
            (item_id, _json(r.gold))
            for item_id, r in zip(ids, records, strict=True)
            if r.gold is not None
        ]
        if gold:
            with raw.copy(
                f"COPY {GoldAnswer._meta.db_table} (item_id, answers) FROM STDIN"
            ) as copy:
                for row in gold:
                    copy.write_row(row)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _bulk_create(sprint: Sprint, records: list[ItemRecord]) -> None:
    """The portable path (SQLite): multi-row INSERTs, returning the new item ids."""
    items = Item.objects.bulk_create(
        Item(
            sprint=sprint,
            external_id=r.external_id,
            prompt=r.prompt,
            context=r.context,
            metadata=r.metadata,
            source=r.source,
            stratum=r.stratum,
            is_gold=r.gold is not None,
            content_sha256=r.content_sha256,
        )
        for r in records
    )
    Response.objects.bulk_create(
        Response(
            item_id=item.pk,
            key=response.key,
            text=response.text,
            model_name=response.model_name,
            model_version=response.model_version,
            metadata=response.metadata,
            position=position,
        )
        for item, record in zip(items, records, strict=True)
        for position, response in enumerate(record.responses)
    )
    gold = [
        GoldAnswer(item_id=item.pk, answers=record.gold)
        for item, record in zip(items, records, strict=True)
        if record.gold is not None
    ]
    if gold:
        GoldAnswer.objects.bulk_create(gold)
