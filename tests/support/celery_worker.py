"""A real Celery worker process for tests.

The worker runs ``celery -A concord worker`` with the test settings (``tests.settings``) and is
pointed at the database the test run created: pytest-django renames the database (the
``test_<name>`` PostgreSQL database, or the SQLite file that tests/settings.py names), and the
worker learns the name from ``CONCORD_TEST_DB_NAME``, which tests/settings.py reads. Both
broker setups work: the filesystem broker in the run's data directory with SQLite, and Redis
with PostgreSQL. Data a test wants the worker to see must be committed, so tests that use a worker
use ``transactional_db``.

Crash tests can :meth:`CeleryWorkerProcess.kill` the worker with SIGKILL and :meth:`start` a
new one. Note for such tests: with Redis, a message that a killed worker had taken comes back
only after the broker's visibility timeout; the filesystem broker deletes a message as soon as
a worker takes it.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from celery import current_app

BASE_DIR = Path(__file__).resolve().parent.parent.parent
READY = re.compile(r"\bready\.\s*$", re.MULTILINE)
DEFAULT_QUEUES = ("default", "gpu")


class WorkerFailed(RuntimeError):
    """The process did not start, or stopped when it should not have."""


class ServiceProcess:
    """One Concord process (a Celery worker, a web server) run from the checkout with the test
    settings, in its own process group, logging to ``log_path``. Subclasses say what to run
    (:meth:`command`) and when it is ready (:meth:`is_ready`)."""

    what = "the process"

    def __init__(
        self, *, database_name: str, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.database_name = database_name
        self.log_path = log_path
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    # --- life cycle -----------------------------------------------------------------------

    def start(self, timeout: float = 60.0, *, wait: bool = True) -> "ServiceProcess":
        """Start the process and, unless ``wait`` is false, return once it is ready."""
        if self.alive:
            raise WorkerFailed(f"{self.what} is already running")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "CONCORD_TEST_DB_NAME": self.database_name,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.pop("CONCORD_CELERY_EAGER", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(
                self.command(),
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Return once :meth:`is_ready`; raise :class:`WorkerFailed` with the log if the
        process exits first or ``timeout`` passes (the process is then killed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_ready():
                return
            if self.process is not None and self.process.poll() is not None:
                raise WorkerFailed(
                    f"{self.what} exited with {self.process.returncode} before it was "
                    f"ready; its log:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        self.kill()
        raise WorkerFailed(
            f"{self.what} was not ready after {timeout:.0f} s; its log:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 30.0) -> int | None:
        """Warm shutdown (SIGTERM: finish the work at hand, then exit); SIGKILL if it hangs.
        Returns the exit status, or ``None`` if no process was running."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode

    def kill(self) -> int | None:
        """SIGKILL, as a crashed machine or the OOM killer would: no task is finished."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal(signal.SIGKILL)
            self.process.wait(10)
        return self.process.returncode

    def _signal(self, signum: int) -> None:
        assert self.process is not None
        # The whole group: a prefork pool or a web server has children of its own.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # --- the log --------------------------------------------------------------------------

    def log_since_start(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_since_start()[-chars:]


class CeleryWorkerProcess(ServiceProcess):
    """One ``celery worker`` subprocess on ``queues``."""

    what = "the Celery worker"

    def __init__(
        self,
        *,
        database_name: str,
        log_path: Path,
        queues: Iterable[str] = DEFAULT_QUEUES,
        pool: str = "solo",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(database_name=database_name, log_path=log_path, extra_env=extra_env)
        self.queues = tuple(queues)
        self.pool = pool
        self.hostname = f"concord-test-{uuid.uuid4().hex[:8]}@%h"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "concord", "worker",
            "--queues", ",".join(self.queues),
            "--pool", self.pool,
            "--concurrency", "1",
            "--loglevel", "INFO",
            "--hostname", self.hostname,
            # One worker, nothing to synchronise with: skip the start-up chatter.
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip

    def is_ready(self) -> bool:
        """Ready once it consumes from its queues."""
        return READY.search(self.log_since_start()) is not None


def purge_queues(queues: Iterable[str] = DEFAULT_QUEUES) -> int:
    """Drop the messages waiting in the test broker's queues, so that a worker does not run
    tasks left over from an earlier, interrupted run. Returns how many were dropped."""
    dropped = 0
    with current_app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues:
            dropped += channel.queue_purge(queue) or 0
    return dropped
