"""Where export files live, and how one appears: whole, or not at all.

A build writes ``dataset-<id>.<format>.partial-<attempt>`` beside the final name, hashing every
byte as it goes (no second pass over the file), fsyncs it, and renames it into place with
``os.replace`` (atomic within one file system), then fsyncs the folder so the rename itself
survives a crash. Nothing serves a ``.partial-*`` name, and the API serves the final name only
once the export is done; the next build of an unfinished export deletes what a dead build left.
"""

import hashlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from exports.models import DatasetVersion

EXPORTS_DIR = "exports"


def final_path(dataset: DatasetVersion) -> Path:
    """The published file of an export (whether or not it exists yet)."""
    return Path(settings.DATA_DIR) / EXPORTS_DIR / f"dataset-{dataset.pk}.{dataset.format}"


def partial_path(dataset: DatasetVersion, attempt: str) -> Path:
    target = final_path(dataset)
    return target.with_name(f"{target.name}.partial-{attempt}")


def remove_leftovers(dataset: DatasetVersion) -> int:
    """Delete what earlier builds of this unfinished export left: their partial files, and a
    file under the final name (one that was renamed into place just before its database commit
    failed, or left by a database restored from an older backup). Returns how many."""
    target = final_path(dataset)
    removed = 0
    for stale in [*target.parent.glob(f"{target.name}.partial-*"), target]:
        if stale.exists():
            stale.unlink(missing_ok=True)
            removed += 1
    return removed


def download_name(dataset: DatasetVersion) -> str:
    """The file name a download is offered under."""
    return f"concord-{dataset.kind}-{dataset.pk}.{dataset.format}"


class HashingWriter(io.RawIOBase):
    """A write-only stream that passes bytes to ``sink`` and feeds them to SHA-256 on the way.

    Closing it does not close ``sink``: the caller still has to fsync and close the real file
    (pyarrow closes the stream it was given when its writer closes)."""

    def __init__(self, sink: io.BufferedWriter) -> None:
        super().__init__()
        self._sink = sink
        self._digest = hashlib.sha256()
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        self._digest.update(view)
        self._sink.write(view)
        self._position += len(view)
        return len(view)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        if not self.closed:
            self._sink.flush()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    @property
    def size(self) -> int:
        return self._position


@contextmanager
def durable_file(path: Path) -> Iterator[HashingWriter]:
    """Open ``path`` for writing through a :class:`HashingWriter`; on a clean exit the bytes are
    flushed and fsynced before the context ends. On an error the file is deleted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("xb", buffering=1 << 20) as sink:
            writer = HashingWriter(sink)
            yield writer
            sink.flush()
            os.fsync(sink.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def publish(partial: Path, target: Path) -> None:
    """Rename a finished file into place and make the rename durable."""
    os.replace(partial, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
