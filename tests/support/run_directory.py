"""The per-run data directory of the test suite (see tests/settings.py): var/test/run-<pid>.

A run removes its own directory when pytest ends, after the test database is destroyed, and
at the start removes those of runs whose process is gone (killed runs leave theirs behind).
A directory set from outside through CONCORD_DATA_DIR is never touched.
"""

import os
import shutil
from pathlib import Path

from tests.settings import TEST_DATA_ROOT

PREFIX = "run-"


def own_run_directory() -> Path | None:
    """This run's directory, if tests/settings.py chose it (rather than the environment)."""
    path = Path(os.environ.get("CONCORD_DATA_DIR", ""))
    if path == TEST_DATA_ROOT / f"{PREFIX}{os.getpid()}":
        return path
    return None


def remove_abandoned_run_directories() -> None:
    if not TEST_DATA_ROOT.is_dir():
        return
    for path in TEST_DATA_ROOT.glob(f"{PREFIX}*"):
        pid = path.name.removeprefix(PREFIX)
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def remove_own_run_directory() -> None:
    path = own_run_directory()
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_configure() -> None:
    remove_abandoned_run_directories()


def pytest_unconfigure() -> None:
    # After the session's fixtures, the test database among them, have been torn down.
    remove_own_run_directory()
