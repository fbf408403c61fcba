"""The labeling bench's server: gunicorn serving ``concord.wsgi`` on a free loopback port, with
persistent database connections, started in its own session so that stopping it stops all of
its workers."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from labeling_client import Client

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_name(worker_class: str, workers: int, threads: int) -> str:
    if worker_class == "sync":
        return f"gunicorn sync x{workers}"
    return f"gunicorn {worker_class} {workers}x{threads}"


def start_server(
    port: int, log, *, worker_class: str, workers: int, threads: int, conn_max_age: int
) -> subprocess.Popen:
    """Start gunicorn; ``log`` (an open file) takes its output. ``conn_max_age`` is passed as
    ``CONCORD_DB_CONN_MAX_AGE``: each worker thread keeps its PostgreSQL connection between
    requests instead of paying a connect (and its authentication) per request."""
    env = {
        **os.environ,
        "ALLOWED_HOSTS": "127.0.0.1",
        "CONCORD_SSL_REDIRECT": "0",
        "CONCORD_SECURE_COOKIES": "0",
        "CONCORD_LOG_LEVEL": "WARNING",
        "CONCORD_DB_CONN_MAX_AGE": str(conn_max_age),
    }
    options = (
        f"--bind 127.0.0.1:{port} --worker-class {worker_class} --workers {workers}"
        f" --keep-alive 120 --backlog 2048 --log-level warning"
    )
    if worker_class != "sync":
        options += f" --threads {threads}"
    command = [sys.executable, "-m", "gunicorn", "concord.wsgi", *options.split()]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_until_up(server: subprocess.Popen, port: int, token: str, log) -> None:
    """Block until an authenticated request succeeds; exit with the server's log if it dies
    or does not answer within a minute."""
    probe = Client(port, token, 5)
    deadline = time.perf_counter() + 60
    while probe.call("GET", "/api/v1/judgments?page_size=1")[0] != 200:
        if server.poll() is not None or time.perf_counter() > deadline:
            log.seek(0)
            sys.exit(f"server did not come up:\n{log.read()[-3000:]}")
        time.sleep(0.2)
