"""Which outside services this test run can reach.

Each ``*_missing()`` function answers ``None`` when the service is there, otherwise the reason
a test that needs it is skipped, in words a user can act on. Results are cached for the run:
the answers do not change while pytest runs, and the Redis probe costs a connection attempt.
"""

import importlib.util
import os
from functools import cache
from pathlib import Path

from django.conf import settings

CHROMIUM = Path("/usr/bin/chromium")


def in_ci() -> bool:
    """True when ``CI`` is set to a true value, as CI services set it: then nothing may skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def database_engine() -> str:
    return settings.DATABASES["default"]["ENGINE"]


@cache
def postgres_missing() -> str | None:
    if database_engine() == "django.db.backends.postgresql":
        return None
    return (
        "needs PostgreSQL: the configured database is "
        f"{database_engine().rsplit('.', 1)[-1]}; set "
        "DATABASE_URL=postgres://USER@HOST:5432/NAME to run it"
    )


@cache
def redis_missing() -> str | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return (
            f"needs Redis: the Celery broker is {url.split(':', 1)[0]}://; set "
            "CELERY_BROKER_URL=redis://HOST:6379/0 to run it"
        )
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        return f"needs Redis, but {_without_password(url)} does not answer: {exc}"
    return None


@cache
def embedded_missing() -> str | None:
    """``None`` on the embedded default that ``make run`` gives a newcomer: SQLite and the
    filesystem Celery broker (neither ``DATABASE_URL`` nor ``CELERY_BROKER_URL`` set)."""
    found = []
    if database_engine() != "django.db.backends.sqlite3":
        found.append(f"the database is {database_engine().rsplit('.', 1)[-1]}")
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        found.append(f"the Celery broker is {settings.CELERY_BROKER_URL.split(':', 1)[0]}://")
    if not found:
        return None
    return (
        "needs the embedded default (SQLite and the filesystem broker: unset DATABASE_URL and "
        "CELERY_BROKER_URL), but " + " and ".join(found)
    )


@cache
def chromium_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Chromium at {CHROMIUM}: apt-get install -y chromium"
    if importlib.util.find_spec("playwright") is None:
        return "needs the playwright Python package: pip install -e '.[dev]'"
    return None


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return scheme + sep + rest
