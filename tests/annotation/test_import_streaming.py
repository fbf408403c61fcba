"""Import reads its file a bounded line at a time and is safe to run twice at once."""

import io
import json
import threading

import pytest
from django.db import connections

from annotation.models import Item
from annotation.services.imports import ImportResult, import_items
from tests.annotation.import_files import concord_row


class WatchedStream(io.BytesIO):
    """Records the largest read the importer asks for: an unbounded read would hold the file."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.largest_request = 0

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("the importer read the whole file at once")
        self.largest_request = max(self.largest_request, size)
        return super().read(size)

    def readline(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("the importer read a line without a limit")
        self.largest_request = max(self.largest_request, size)
        return super().readline(size)


@pytest.mark.django_db
def test_reads_are_bounded_by_the_line_limit(sprint):
    data = b"\n".join(json.dumps(concord_row(f"t-{i}")).encode() for i in range(500))
    stream = WatchedStream(data)
    result = import_items(
        sprint, stream, filename="items.jsonl", max_line_bytes=4096, chunk_size=64
    )
    assert result.created == 500
    assert stream.largest_request <= 4097


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_store_it_once(sprint):
    data = b"\n".join(json.dumps(concord_row(f"t-{i}")).encode() for i in range(300))
    results: list[ImportResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            results.append(
                import_items(sprint, io.BytesIO(data), filename="x.jsonl", chunk_size=50)
            )
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted((r.created, r.unchanged) for r in results) == [(0, 300), (300, 0)]
    assert Item.objects.filter(sprint=sprint).count() == 300
