"""An S3 endpoint for tests and benchmarks: moto's standalone server (``python -m moto.server``)
on a free loopback port, in its own process, with a bucket created.

No S3 server (MinIO, Ceph) can be installed from this project's package sources, so moto's
server stands in for one: it speaks the S3 HTTP API, and Concord talks to it through the same
django-storages/boto3 code that talks to AWS S3, MinIO or R2. Being a separate process, it
serves web, worker and benchmark processes alike, and none of them shares its memory.

Use the session-scoped ``s3_endpoint`` fixture (tests/conftest.py), which yields the endpoint
URL of a server holding the bucket ``BUCKET``; credentials are any (``ACCESS_KEY_ID`` /
``SECRET_ACCESS_KEY`` below), the region is ``REGION``.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

BUCKET = "concord-test"
REGION = "us-east-1"
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"

START_TIMEOUT_SECONDS = 60.0


class S3ServerError(RuntimeError):
    """moto's server did not start or answer."""


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_answering(endpoint: str, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise S3ServerError(f"moto's server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers, whatever the status
        except OSError:
            time.sleep(0.1)
    raise S3ServerError(f"moto's server did not answer on {endpoint} in time")


def s3_client(endpoint: str):
    """A boto3 S3 client of the endpoint, with the test credentials."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def create_bucket(endpoint: str, bucket: str = BUCKET) -> None:
    """Create ``bucket`` on the endpoint (nothing happens if it exists)."""
    client = s3_client(endpoint)
    existing = {entry["Name"] for entry in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


@contextmanager
def running_s3_server(bucket: str = BUCKET) -> Iterator[str]:
    """Start moto's standalone server on a free loopback port, create ``bucket``, yield the
    endpoint URL (``http://127.0.0.1:<port>``), and stop the server afterwards.

    Its output goes to /dev/null (moto logs every request). A port taken between choosing
    and binding is retried with another one."""
    for _attempt in range(3):
        port = _free_loopback_port()
        endpoint = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            _wait_until_answering(endpoint, process, time.monotonic() + START_TIMEOUT_SECONDS)
        except S3ServerError:
            _stop(process)
            if process.returncode not in (None, 0) and _attempt < 2:
                continue
            raise
        try:
            create_bucket(endpoint, bucket)
            yield endpoint
        finally:
            _stop(process)
        return
    raise S3ServerError("moto's server could not bind a loopback port")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def artifact_storage_settings(endpoint: str, prefix: str, bucket: str = BUCKET) -> dict:
    """``STORAGES["artifacts"]`` for the bucket on ``endpoint``, under ``prefix``: what
    concord/settings.py builds from ``CONCORD_STORAGE=s3`` and the ``CONCORD_S3_*`` variables."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": REGION,
            "access_key": ACCESS_KEY_ID,
            "secret_key": SECRET_ACCESS_KEY,
            "location": prefix,
            "file_overwrite": True,
            "querystring_auth": True,
            "signature_version": "s3v4",
            "max_memory_size": 8 * 1024 * 1024,
        },
    }


class S3Objects:
    """Direct access to the test bucket under one prefix, past Concord's code: what a test
    reads to check the store, or writes to tamper with it."""

    def __init__(self, endpoint: str, prefix: str, bucket: str = BUCKET) -> None:
        self.bucket, self.prefix = bucket, prefix
        self.client = s3_client(endpoint)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"].read()

    def write(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)

    def names(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + "/"
        )
        return sorted(
            entry["Key"].removeprefix(self.prefix + "/")
            for page in pages
            for entry in page.get("Contents", ())
        )
