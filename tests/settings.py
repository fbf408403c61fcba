"""Settings for the test suite: the real settings, with a test secret, plain HTTP and a fast
password hasher. The data directory (SQLite file, filesystem broker) is under var/test, shared
with any worker process a test starts."""

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault(
    "CONCORD_DATA_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test")
)
os.environ.setdefault("CONCORD_SSL_REDIRECT", "0")
os.environ.setdefault("CONCORD_SECURE_COOKIES", "0")

from concord.settings import *  # noqa: F403
from concord.settings import DATA_DIR, DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a worker process started by a test sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_concord.sqlite3")}
