"""A pytest plugin: tests that need an outside service skip on a user's machine that lacks it,
and in CI (``CI=true``) nothing may skip.

Markers (declared in pyproject.toml):

- ``postgres``: skipped unless the configured database is PostgreSQL;
- ``redis``: skipped unless ``CELERY_BROKER_URL`` is Redis and it answers;
- ``browser``: skipped unless Chromium is at /usr/bin/chromium and playwright is importable;
- ``embedded``: skipped unless the run is on the embedded default (SQLite and the filesystem
  broker), the setup ``make run`` gives a newcomer;
- ``worker``: starts a real Celery worker process (on whichever broker is configured); no skip;
- ``nodb``: uses neither the database nor the broker (the trainer's PyTorch tests), so a second
  pass on another setup has nothing to add; a test so marked that asks for the database is an
  error.

In CI a skip of any kind (marker, ``pytest.skip()``, ``importorskip``, a skipped module) is
turned into a failure that names the reason. CI runs the suite twice (``.ci/run``): against
PostgreSQL and Redis, and on the embedded default with the tests the embedded setup cannot run
deselected by marker (``-m``). So in CI the run stops before any test if the setup is neither
of those two, or if a selected test is marked for a service this setup lacks: the selection
must say which tests a pass leaves out, never a skip.
"""

import pytest

from tests.support.availability import (
    chromium_missing,
    embedded_missing,
    in_ci,
    postgres_missing,
    redis_missing,
)

MARKER_CHECKS = {
    "postgres": postgres_missing,
    "redis": redis_missing,
    "browser": chromium_missing,
    "embedded": embedded_missing,
}
DB_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
}


def pytest_configure(config: pytest.Config) -> None:
    if not in_ci():
        return
    deployment = [reason for reason in (postgres_missing(), redis_missing()) if reason]
    if deployment and embedded_missing():
        raise pytest.UsageError(
            "CI is set, so the suite must run against the real services (PostgreSQL and Redis) "
            "or on the embedded default (SQLite and the filesystem broker), but:\n  - "
            + "\n  - ".join([*deployment, embedded_missing()])
        )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In CI, after ``-m`` has deselected what it will: every selected test must be able to
    run here. A marker whose service is missing stops the run, naming how many tests it marks
    and how to leave them out."""
    claims = [
        item.nodeid
        for item in items
        if item.get_closest_marker("nodb") is not None
        and (item.get_closest_marker("django_db") or DB_FIXTURES & set(item.fixturenames))
    ]
    if claims:
        raise pytest.UsageError(
            "marked 'nodb' but asks for the database:\n  - " + "\n  - ".join(claims)
        )
    if not in_ci():
        return
    unmet = {}
    for marker, missing in MARKER_CHECKS.items():
        marked = sum(1 for item in items if item.get_closest_marker(marker) is not None)
        if marked and missing():
            unmet[marker] = (marked, missing())
    if unmet:
        lines = [f"{n} selected test(s) marked {m!r}: {why}" for m, (n, why) in unmet.items()]
        leave_out = " and ".join(f"not {m}" for m in unmet)
        raise pytest.UsageError(
            "CI is set, so nothing may skip, but:\n  - "
            + "\n  - ".join(lines)
            + f'\nLeave them out of this pass by marker (-m "{leave_out}") or provide the service.'
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, missing in MARKER_CHECKS.items():
        if item.get_closest_marker(marker) is not None:
            reason = missing()
            if reason:
                pytest.skip(reason)


def _as_ci_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, where nothing may skip: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        _as_ci_failure(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    if in_ci() and report.skipped:
        _as_ci_failure(report)
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    services = {
        "postgresql": postgres_missing(),
        "redis": redis_missing(),
        "chromium": chromium_missing(),
        "embedded default": embedded_missing(),
    }
    found = ", ".join(f"{name} {'yes' if not why else 'no'}" for name, why in services.items())
    return [f"concord: CI={'yes' if in_ci() else 'no'}; {found}"]
