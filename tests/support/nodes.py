"""Concord as a deployment runs it, on one machine: a web node and Celery workers as separate
processes, each with its own data directory, sharing only the database, the broker and
(optionally) an object store, for tests/e2e/test_three_nodes.py.

Each node is a real process started from the checkout with the test settings, pointed at the
test database (``CONCORD_TEST_DB_NAME``) and the broker the run is configured with, and given
its own ``CONCORD_DATA_DIR`` (and artifact cache) plus whatever shared environment the test
passes. :class:`Cluster` starts them together, waits until every one is ready, and stops them
(by process group) in a finalizer, printing each log so that a failed run shows what every node
did. :func:`tree` lists what a data directory holds;
:func:`rows_mentioning` finds a path anywhere in the database.
"""

import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.db import connection

from tests.support.celery_worker import CeleryWorkerProcess, ServiceProcess, purge_queues

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
READY_TIMEOUT = 180.0


class WebNode(ServiceProcess):
    """The web app under gunicorn (one sync worker, as a small deployment runs it) on a port
    the operating system picks; ``url`` is its address once it is ready."""

    what = "the web node (gunicorn)"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "concord.wsgi:application",
            "--bind", "127.0.0.1:0",
            "--workers", "1",
            # Loading a reward model on a loaded CI machine may take a while; never cut it.
            "--timeout", "300",
            "--graceful-timeout", "5",
            "--access-logfile", "-", "--error-logfile", "-",
            # No control socket: its default path is in $HOME, shared by every gunicorn.
            "--no-control-socket",
        ]  # fmt: skip

    @property
    def url(self) -> str:
        found = LISTENING.search(self.log_since_start())
        if found is None:
            raise RuntimeError(f"{self.what} has not said where it listens")
        return f"http://127.0.0.1:{found.group(1)}"

    def is_ready(self) -> bool:
        """Ready once it listens and its worker answers a page."""
        if LISTENING.search(self.log_since_start()) is None:
            return False
        try:
            return requests.get(f"{self.url}/accounts/login/", timeout=5).status_code == 200
        except requests.RequestException:
            return False


@dataclass
class Node:
    """One node: its role, its data directory and its process."""

    name: str
    data_dir: Path
    process: ServiceProcess


@dataclass
class Cluster:
    """A web node, a ``default`` worker and a ``gpu`` worker under ``root``: data directories
    in ``root/<name>``, logs in ``root/logs`` (outside every data directory)."""

    root: Path
    database_name: str
    shared_env: dict[str, str]
    nodes: dict[str, Node] = field(default_factory=dict)
    started_at: float | None = None

    def __post_init__(self) -> None:
        for name in ("web", "default", "gpu"):
            data_dir = self.root / name
            data_dir.mkdir(parents=True)
            common = {
                "database_name": self.database_name,
                "log_path": self.root / "logs" / f"{name}.log",
                "extra_env": {
                    **self.shared_env,
                    "CONCORD_DATA_DIR": str(data_dir),
                    "CONCORD_ARTIFACT_CACHE_DIR": str(data_dir / "artifact-cache"),
                },
            }
            # A worker node consumes the queue of its name.
            process = (
                WebNode(**common) if name == "web" else CeleryWorkerProcess(**common, queues=[name])
            )
            self.nodes[name] = Node(name, data_dir, process)

    @property
    def web(self) -> WebNode:
        return self.nodes["web"].process  # type: ignore[return-value]

    def data_dirs(self) -> dict[str, Path]:
        return {name: node.data_dir for name, node in self.nodes.items()}

    def start(self) -> None:
        """Start every node at once and return when all are ready."""
        self.started_at = time.monotonic()
        purge_queues(("default", "gpu"))
        for node in self.nodes.values():
            node.process.start(wait=False)
        for node in self.nodes.values():
            node.process.wait_ready(READY_TIMEOUT)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.process.stop()

    def logs(self, chars: int = 8000) -> str:
        return "\n".join(
            f"===== {name} node log ({node.process.log_path}) =====\n{node.process.log_tail(chars)}"
            for name, node in self.nodes.items()
        )


@contextmanager
def running_cluster(cluster: Cluster) -> Iterator[Cluster]:
    """Start ``cluster``; always stop every node afterwards and print their logs (pytest shows
    them when the test failed)."""
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        print(cluster.logs())


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``, relative path -> (size, mtime in ns)."""
    return {
        path.relative_to(root).as_posix(): (stat.st_size, stat.st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file() and (stat := path.stat())
    }


def rows_mentioning(needles: Iterable[str]) -> list[str]:
    """``table: row`` for every row of every table of the database whose text contains one of
    ``needles`` (PostgreSQL: each row is read as its text form)."""
    needles = list(needles)
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            condition = " OR ".join(["strpos(row_text, %s) > 0"] * len(needles))
            cursor.execute(
                f"SELECT row_text FROM (SELECT t::text AS row_text FROM {quoted} t) r "
                f"WHERE {condition}",
                needles,
            )
            found += [f"{table}: {text[:300]}" for (text,) in cursor.fetchall()]
    return found


def wait_until(fetch, done, *, timeout: float, what: str, cluster: Cluster):
    """Poll ``fetch()`` until ``done(value)`` and return that value; on timeout fail with
    the last value and every node's log."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {value}\n{cluster.logs()}")
        time.sleep(0.2)
