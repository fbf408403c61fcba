"""The Celery application.

Apps declare their tasks with ``@shared_task`` and never import this module; the broker is
chosen in settings (Redis when ``CELERY_BROKER_URL`` is set, otherwise a filesystem broker
under the data directory that needs no server).
"""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "concord.settings")
# filesystem:// (the embedded broker) writes each message atomically: kombu's own transport
# can hand a worker a half-written file, which stops it (see concord.filesystem_broker).
TRANSPORT_ALIASES["filesystem"] = "concord.filesystem_broker:Transport"

app = Celery("concord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
