"""A pytest plugin: tests that need an outside service skip on a user's machine that lacks it,
and in CI (``CI=true``) nothing may skip.

Markers (registered here, and some also in pyproject.toml):

- ``postgres``: skipped unless the configured database is PostgreSQL;
- ``redis``: skipped unless ``CELERY_BROKER_URL`` is Redis and it answers;
- ``browser``: skipped unless Chromium is at /usr/bin/chromium and playwright is importable.

In CI a skip of any kind (marker, ``pytest.skip()``, ``importorskip``, a skipped module) is
turned into a failure that names the reason, and the run stops before collecting anything if
the database is not PostgreSQL or Redis does not answer: CI exists to run the real thing.
"""

import pytest

from tests.support.availability import chromium_missing, in_ci, postgres_missing, redis_missing

MARKER_CHECKS = {
    "postgres": postgres_missing,
    "redis": redis_missing,
    "browser": chromium_missing,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "redis: needs Redis as the Celery broker")
    if not in_ci():
        return
    problems = [reason for reason in (postgres_missing(), redis_missing()) if reason]
    if problems:
        raise pytest.UsageError(
            "CI is set, so the suite must run against the real services, but:\n  - "
            + "\n  - ".join(problems)
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
    }
    found = ", ".join(f"{name} {'yes' if not why else 'no'}" for name, why in services.items())
    return [f"concord: CI={'yes' if in_ci() else 'no'}; {found}"]
