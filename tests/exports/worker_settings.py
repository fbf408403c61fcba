"""Settings for the Celery worker of the crash test (tests/exports/test_export_worker.py): the
test settings, with the export's test-only brake and short timeouts, so that a worker can be
killed in the middle of a build and the retry comes within seconds:

- ``CONCORD_EXPORT_ROW_DELAY`` from ``CONCORD_TEST_EXPORT_ROW_DELAY`` (seconds per row);
- a heartbeat older than 2 s counts as stalled (the build stamps it every 0.5 s);
- with Redis, a message a dead worker had taken comes back after 3 s instead of 6 hours: kombu
  (5.7 and later) looks for such messages every ``unacked_restore_interval`` seconds, and scans
  only every ``unacked_restore_throttle``-th look, so both are 1 here.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_BROKER_URL

CONCORD_EXPORT_ROW_DELAY = float(os.environ.get("CONCORD_TEST_EXPORT_ROW_DELAY", "0"))
CONCORD_EXPORT_STALL_SECONDS = 2
if not CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "visibility_timeout": 3,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
