"""The web process starts a training run without importing torch: the trainer's import took
tens of seconds on a cold process (schemathesis saw a 39 s first POST), past a WSGI worker's
timeout. Only a worker that trains or a scorer loads torch."""

import subprocess
import sys

from django.conf import settings

PROBE = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
from training.services.run_options import train_option_defaults
from training.services.runs import start_training_run  # noqa: F401
from training.services.train_config import DEFAULT_BASE_MODEL
train_option_defaults()
print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
"""


def test_the_web_side_of_a_training_run_does_not_import_torch():
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
