"""Writing parsed records in chunks.

Each chunk is compared with what the sprint already holds: an item whose external id exists
with the same content digest counts as unchanged; the same id with other content is a problem
(items are immutable once imported, since judgments refer to them). New items and their
responses go in with one multi-row INSERT per table per chunk.
"""

import hashlib
from dataclasses import dataclass

from annotation.models import GoldAnswer, Item, Response, Sprint
from annotation.services.imports.errors import ImportProblem
from annotation.services.imports.records import ItemRecord


@dataclass
class PendingRecord:
    line: int
    record: ItemRecord


class ItemWriter:
    """Buffers records and writes them a chunk at a time.

    An external id repeated anywhere in the file is a problem: ``seen`` keeps a 64-bit digest of
    each id (about 50 bytes an item in a Python set), the only state that grows with the file.
    The caller's transaction rolls everything back if any problem was found.
    """

    def __init__(self, sprint: Sprint, chunk_size: int = 2000) -> None:
        self.sprint = sprint
        self.chunk_size = chunk_size
        self.pending: list[PendingRecord] = []
        self.created = 0
        self.unchanged = 0
        self.seen: set[int] = set()

    def add(self, line: int, record: ItemRecord) -> list[ImportProblem]:
        self.pending.append(PendingRecord(line, record))
        if len(self.pending) >= self.chunk_size:
            return self.flush()
        return []

    def flush(self) -> list[ImportProblem]:
        chunk, self.pending = self.pending, []
        if not chunk:
            return []
        existing = dict(
            Item.objects.filter(
                sprint=self.sprint, external_id__in=[p.record.external_id for p in chunk]
            ).values_list("external_id", "content_sha256")
        )
        problems: list[ImportProblem] = []
        fresh: list[PendingRecord] = []
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
            digest = existing.get(external_id)
            if digest is None:
                fresh.append(pending)
            elif digest == pending.record.content_sha256:
                self.unchanged += 1
            else:
                problems.append(
                    ImportProblem(
                        pending.line,
                        f"external_id {pending.record.external_id!r} already exists in this "
                        "sprint with different content; imported items are never changed, so "
                        "give the new version another external_id",
                        "external_id",
                    )
                )
        if fresh:
            self._insert([p.record for p in fresh])
            self.created += len(fresh)
        return problems

    def _insert(self, records: list[ItemRecord]) -> None:
        items = Item.objects.bulk_create(
            Item(
                sprint=self.sprint,
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
