"""The Celery application.

Apps declare their tasks with ``@shared_task`` and never import this module; the broker is
chosen in settings (Redis when ``CELERY_BROKER_URL`` is set, otherwise a filesystem broker
under the data directory that needs no server).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "concord.settings")

app = Celery("concord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
