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


def create_bucket(endpoint: str, bucket: str = BUCKET) -> None:
    """Create ``bucket`` on the endpoint (nothing happens if it exists)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
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
