"""Artifacts in the store: putting finished files into Django's named storage ``artifacts``,
reading them back as a stream, and staging verified local copies.

The store is ``STORAGES["artifacts"]`` (concord/settings.py): :class:`DataDirStorage`, the
local file system under ``settings.DATA_DIR``, by default, or django-storages' ``S3Storage``
on an S3-compatible bucket that every web node and worker shares. Callers name an artifact by
its storage name (``exports/dataset-7.jsonl``, ``training/runs/run-3/model.safetensors``),
which comes from a database row, never from a request.

Guarantees:

- :func:`publish_file` makes a finished local file appear under its name whole or not at all:
  on the local store by an atomic rename (fsynced), on S3 by one upload (multipart for large
  files, checksummed by boto3 part by part), which S3 makes visible only once complete.
  Nothing is held in memory; the caller hashed the bytes while writing them.
- :func:`stage_file` and :func:`stage_directory` give a local path whose bytes match a
  recorded SHA-256, or raise :class:`ArtifactCorrupt` (naming the file, the expected and the
  found digest) or :class:`ArtifactMissing`. On S3 the copy lives in the artifact cache
  (``CONCORD_ARTIFACT_CACHE_DIR``) under ``<cache>/<sha256>/``, written through a partial name
  and renamed once verified, and is verified again every time it is used; on the local store
  the file is verified where it lies, nothing is copied.
"""

import hashlib
import json
import os
import posixpath
import shutil
import uuid
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import ConnectionError as EndpointUnreachable
from botocore.exceptions import HTTPClientError
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from annotation.services.errors import ConcordError

STORAGE_NAME = "artifacts"
# A remote store that could not be reached or dropped the connection: worth another try later.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (EndpointUnreachable, HTTPClientError)
CHUNK_BYTES = 1 << 20
MANIFEST_NAME = "manifest.json"


class ArtifactMissing(ConcordError):
    """An artifact is not in the store (or its name leaves it)."""

    status = 409


class ArtifactCorrupt(ConcordError):
    """An artifact's bytes do not match the SHA-256 recorded for them."""

    status = 409


class DataDirStorage(FileSystemStorage):
    """The local store: ``settings.DATA_DIR``, read each time, so that a process (or a test)
    that changes the data directory stores its artifacts there."""

    @property
    def base_location(self) -> str:  # type: ignore[override]
        return str(settings.DATA_DIR)

    @property
    def location(self) -> str:  # type: ignore[override]
        return os.path.abspath(self.base_location)


def artifact_storage() -> Storage:
    return storages[STORAGE_NAME]


def local_root(storage: Storage | None = None) -> Path | None:
    """The folder of a file-system store; ``None`` for a remote one (S3)."""
    storage = storage or artifact_storage()
    if isinstance(storage, FileSystemStorage):
        return Path(storage.location)
    return None


def local_path(name: str) -> Path:
    """Where artifact ``name`` lies on a file-system store. Raises :class:`ArtifactMissing`
    for a name that leaves the store, ``NotImplementedError`` on a remote store."""
    storage = artifact_storage()
    try:
        return Path(storage.path(name))
    except SuspiciousOperation:
        raise ArtifactMissing(f"{name} is not a name inside the artifact store.") from None


def _fsync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def publish_file(local: Path, name: str) -> None:
    """Put the finished file ``local`` into the store under ``name``, replacing what was
    there, whole or not at all (see the module docstring). ``local`` is gone afterwards: moved
    into place on the local store, deleted after the upload on S3."""
    storage = artifact_storage()
    root = local_root(storage)
    if root is not None:
        target = local_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, target)
        _fsync_folder(target.parent)
        return
    size = local.stat().st_size
    with local.open("rb") as stream:
        saved = storage.save(name, File(stream, name=posixpath.basename(name)))
    if saved != name:  # file_overwrite is on; anything else would record a wrong name
        raise RuntimeError(f"the store saved {name} as {saved}")
    if storage.size(name) != size:
        raise ArtifactCorrupt(f"{name}: the store holds {storage.size(name)} bytes, not {size}.")
    local.unlink()


def publish_bytes(data: bytes, name: str, *, scratch: Path) -> str:
    """Put small ``data`` (a manifest) under ``name`` through a partial file in the local
    folder ``scratch``; returns its SHA-256."""
    scratch.mkdir(parents=True, exist_ok=True)
    partial = scratch / f"{posixpath.basename(name)}.partial-{uuid.uuid4().hex}"
    try:
        with partial.open("xb") as sink:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
        publish_file(partial, name)
    finally:
        partial.unlink(missing_ok=True)
    return hashlib.sha256(data).hexdigest()


def delete(name: str) -> bool:
    """Remove artifact ``name`` if it is there; True if it was."""
    storage = artifact_storage()
    if not storage.exists(name):
        return False
    storage.delete(name)
    return True


def exists(name: str) -> bool:
    try:
        return artifact_storage().exists(name)
    except SuspiciousOperation:
        return False


def open_stream(name: str) -> IO[bytes]:
    """A binary stream of artifact ``name``, read from the store as it is consumed (on S3 the
    body of one GET, never spooled whole). Raises :class:`ArtifactMissing`."""
    storage = artifact_storage()
    if local_root(storage) is not None:
        try:
            return local_path(name).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise ArtifactMissing(f"{name} is missing from the artifact store.") from None
    from botocore.exceptions import ClientError

    key = posixpath.join(storage.location, name) if storage.location else name
    try:
        answer = storage.bucket.Object(key).get()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise ArtifactMissing(f"{name} is missing from the artifact store.") from None
        raise
    return ObjectStream(answer["Body"], int(answer["ContentLength"]))


class ObjectStream:
    """The body of one GET from the store, read as it is consumed, with its ``size`` in bytes
    (a download's Content-Length)."""

    def __init__(self, body: Any, size: int) -> None:
        self._body, self.size = body, size

    def read(self, amount: int = -1) -> bytes:
        return self._body.read(None if amount is None or amount < 0 else amount)

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> "ObjectStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def signed_url(name: str, *, seconds: int, download_as: str | None = None) -> str | None:
    """A URL that lets its holder GET artifact ``name`` for ``seconds``, or ``None`` where the
    store cannot sign one (the local file system)."""
    storage = artifact_storage()
    if local_root(storage) is not None:
        return None
    parameters = {}
    if download_as:
        parameters["ResponseContentDisposition"] = f'attachment; filename="{download_as}"'
    return storage.url(name, parameters=parameters, expire=seconds)


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return sha256_of(stream)


def _check(path: Path, sha256: str, label: str) -> Path:
    found = file_sha256(path)
    if found != sha256:
        raise ArtifactCorrupt(
            f"{label} does not match its recorded SHA-256 (expected {sha256}, found {found}); "
            "the stored copy was changed or damaged."
        )
    return path


def _copy_verified(name: str, target: Path, sha256: str, label: str) -> Path:
    """Stream artifact ``name`` to ``target`` through a partial name, hashing as it goes;
    rename into place only when the digest matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{uuid.uuid4().hex}")
    digest = hashlib.sha256()
    try:
        with open_stream(name) as source, partial.open("xb") as sink:
            for chunk in iter(lambda: source.read(CHUNK_BYTES), b""):
                digest.update(chunk)
                sink.write(chunk)
        if digest.hexdigest() != sha256:
            raise ArtifactCorrupt(
                f"{label} does not match its recorded SHA-256 (expected {sha256}, found "
                f"{digest.hexdigest()}); the stored copy was changed or damaged."
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def cache_folder(sha256: str) -> Path:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ArtifactCorrupt(f"{sha256!r} is not a SHA-256 digest.")
    return Path(settings.CONCORD_ARTIFACT_CACHE_DIR) / sha256


def stage_file(name: str, sha256: str, *, label: str | None = None) -> Path:
    """A local file holding artifact ``name``, verified against ``sha256`` (see the module
    docstring). ``label`` names the artifact in errors (default: its name)."""
    label = label or name
    if local_root() is not None:
        path = local_path(name)
        if not path.is_file():
            raise ArtifactMissing(f"{label} is missing from the artifact store.")
        return _check(path, sha256, label)
    target = cache_folder(sha256) / posixpath.basename(name)
    if target.is_file():
        return _check(target, sha256, label)
    return _copy_verified(name, target, sha256, label)


def directory_manifest(folder: Path) -> dict[str, Any]:
    """``{"files": {relative path: {"sha256", "size"}}}`` of every file under ``folder``."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative != MANIFEST_NAME:
            files[relative] = {"sha256": file_sha256(path), "size": path.stat().st_size}
    return {"files": files}


def publish_directory(folder: Path, prefix: str) -> str:
    """Put every file under ``folder`` into the store under ``prefix/`` and, last, the
    manifest ``prefix/manifest.json`` of their SHA-256 digests; returns the manifest's
    SHA-256, the one digest the caller records. On the local store ``folder`` must already
    be ``prefix``'s folder (the trainer writes there), and only the manifest is added; on S3
    each file is uploaded and ``folder`` is removed afterwards."""
    manifest = directory_manifest(folder)
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    root = local_root()
    if root is not None:
        if folder.resolve() != local_path(prefix).resolve():
            raise ValueError(f"{folder} is not the store's folder for {prefix}")
        return publish_bytes(data, f"{prefix}/{MANIFEST_NAME}", scratch=folder)
    for relative in manifest["files"]:
        publish_file(folder / relative, f"{prefix}/{relative}")
    digest = publish_bytes(data, f"{prefix}/{MANIFEST_NAME}", scratch=folder)
    shutil.rmtree(folder, ignore_errors=True)
    return digest


def stage_directory(prefix: str, manifest_sha256: str, *, label: str) -> Path:
    """A local folder holding every file of the artifact directory ``prefix``, each verified
    against the manifest, which is verified against ``manifest_sha256``. On S3 the folder is
    ``<cache>/<manifest_sha256>/``."""
    manifest_path = stage_file(f"{prefix}/{MANIFEST_NAME}", manifest_sha256, label=label)
    entries = json.loads(manifest_path.read_bytes())["files"]
    if local_root() is not None:
        folder = manifest_path.parent
        for relative, entry in entries.items():
            path = _inside(folder, relative, label)
            if not path.is_file():
                raise ArtifactMissing(f"{label}: {relative} is missing from the artifact store.")
            _check(path, entry["sha256"], f"{label}: {relative}")
        return folder
    folder = manifest_path.parent
    for relative, entry in entries.items():
        path = _inside(folder, relative, label)
        what = f"{label}: {relative}"
        if path.is_file():
            _check(path, entry["sha256"], what)
        else:
            _copy_verified(f"{prefix}/{relative}", path, entry["sha256"], what)
    return folder


def _inside(folder: Path, relative: str, label: str) -> Path:
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ArtifactCorrupt(f"{label}: the manifest names {relative!r}, outside its folder.")
    return path
