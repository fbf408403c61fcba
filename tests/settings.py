"""Settings for the test suite: the real settings, with a test secret, plain HTTP and a fast
password hasher. The data directory (SQLite file, filesystem broker) is var/test/run-<pid>, one
per pytest run, so that two runs in one checkout never share a database or a queue; a worker
process a test starts inherits CONCORD_DATA_DIR and so shares the run's directory. The run
removes it at the end (tests/support/run_directory.py)."""

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault(
    "CONCORD_DATA_DIR",
    str(Path(__file__).resolve().parent.parent / "var" / "test" / f"run-{os.getpid()}"),
)
os.environ.setdefault("CONCORD_SSL_REDIRECT", "0")
os.environ.setdefault("CONCORD_SECURE_COOKIES", "0")

from concord.settings import *  # noqa: F403
from concord.settings import DATA_DIR, DATABASES

TEST_DATA_ROOT = Path(__file__).resolve().parent.parent / "var" / "test"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a worker process started by a test sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_concord.sqlite3")}

# A Celery worker started by a test (tests/support/celery_worker.py) must use the database the
# test run created, not the one the settings name: pytest-django creates `test_<name>` on
# PostgreSQL, and the SQLite file above. The fixture passes that name here.
if os.environ.get("CONCORD_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["CONCORD_TEST_DB_NAME"]
