"""Where export files live, and how one appears: whole, or not at all.

A build writes ``dataset-<id>.<format>.partial-<attempt>`` in the local ``exports`` folder of
the data directory, hashing every byte as it goes (no second pass over the file), fsyncs it,
and then publishes it to the artifact store (annotation.services.artifact_store) under
``exports/dataset-<id>.<format>``: on the local store by an atomic ``os.replace`` beside it
(the folder fsynced, so the rename survives a crash), on S3 by one upload that becomes visible
only once complete. The manifest is published beside it as
``exports/dataset-<id>.<format>.manifest.json``. Nothing serves a ``.partial-*`` name, and the
API serves the final name only once the export is done; the next build of an unfinished export
deletes what a dead build left, locally and in the store.
"""

import hashlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from django.conf import settings

from annotation.services import artifact_store
from exports.models import DatasetVersion

EXPORTS_DIR = "exports"


def final_name(dataset: DatasetVersion) -> str:
    """The storage name of an export's file (whether or not it exists yet)."""
    return f"{EXPORTS_DIR}/dataset-{dataset.pk}.{dataset.format}"


def manifest_name(dataset: DatasetVersion) -> str:
    """The storage name of an export's manifest, beside its file."""
    return f"{final_name(dataset)}.manifest.json"


def final_path(dataset: DatasetVersion) -> Path:
    """The published file of an export on the local store (whether or not it exists yet);
    a remote store has no such path (``NotImplementedError``)."""
    return artifact_store.local_path(final_name(dataset))


def scratch_folder() -> Path:
    """The local folder where builds write their partial files."""
    return Path(settings.DATA_DIR) / EXPORTS_DIR


def partial_path(dataset: DatasetVersion, attempt: str) -> Path:
    name = final_name(dataset).rsplit("/", 1)[-1]
    return scratch_folder() / f"{name}.partial-{attempt}"


def remove_leftovers(dataset: DatasetVersion) -> int:
    """Delete what earlier builds of this unfinished export left: their local partial files,
    and a file or manifest under the final names in the store (one published just before its
    database commit failed, or left by a database restored from an older backup). Returns
    how many."""
    prefix = final_name(dataset).rsplit("/", 1)[-1]
    removed = 0
    for stale in scratch_folder().glob(f"{prefix}.partial-*"):
        stale.unlink(missing_ok=True)
        removed += 1
    for name in (final_name(dataset), manifest_name(dataset)):
        removed += artifact_store.delete(name)
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


def publish(partial: Path, dataset: DatasetVersion, manifest: dict) -> str:
    """Publish a finished build: the manifest, then the file (so a file in the store always
    has its manifest beside it). Returns the file's storage name."""
    data = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    artifact_store.publish_bytes(data, manifest_name(dataset), scratch=scratch_folder())
    artifact_store.publish_file(partial, final_name(dataset))
    return final_name(dataset)
