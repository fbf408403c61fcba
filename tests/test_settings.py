"""concord/settings.py, read in fresh processes with controlled environments: the secret key is
required outside debug, a production configuration passes Django's deployment checks, and the
database and broker follow DATABASE_URL and CELERY_BROKER_URL with embedded defaults."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

PRINT_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", ""),
    "port": db.get("PORT", ""), "user": db.get("USER", ""),
    "broker": settings.CELERY_BROKER_URL, "debug": settings.DEBUG,
}))
"""


def run_python(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python in a fresh process with concord.settings and only the given Concord
    variables: nothing of this test run's environment (CI's DATABASE_URL, say) leaks in."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS"}
        and not key.startswith(("CONCORD_", "DJANGO_"))
    }
    clean.update(DJANGO_SETTINGS_MODULE="concord.settings", CONCORD_DATA_DIR=str(tmp_path / "data"))
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_settings(tmp_path: Path, **env: str) -> dict:
    result = run_python(
        ["-c", "import django; django.setup()\n" + PRINT_SETTINGS],
        tmp_path,
        SECRET_KEY="x" * 60,
        **env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_missing_secret_key_outside_debug_is_refused(tmp_path):
    result = run_python(["-c", "from django.conf import settings; settings.DEBUG"], tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_debug_instance_runs_without_secret_key(tmp_path):
    result = run_python(
        ["-c", "import django; django.setup()\n" + PRINT_SETTINGS], tmp_path, CONCORD_DEBUG="1"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["debug"] is True


def test_production_settings_pass_deploy_checks(tmp_path):
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="concord.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_embedded_defaults_are_sqlite_and_filesystem_broker(tmp_path):
    found = read_settings(tmp_path)

    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str((tmp_path / "data" / "concord.sqlite3").resolve())
    assert found["broker"] == "filesystem://"
    assert found["debug"] is False
    assert (tmp_path / "data" / "broker" / "queue").is_dir()


def test_database_url_and_broker_url_are_honoured(tmp_path):
    found = read_settings(
        tmp_path,
        DATABASE_URL="postgres://concord@db.internal:6543/labels",
        CELERY_BROKER_URL="redis://cache.internal:6380/2",
    )

    assert found["engine"] == "django.db.backends.postgresql"
    assert (found["name"], found["host"], found["port"], found["user"]) == (
        "labels",
        "db.internal",
        6543,
        "concord",
    )
    assert found["broker"] == "redis://cache.internal:6380/2"
    assert not (tmp_path / "data" / "broker").exists()


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_debug_flag_off_values(tmp_path, value):
    assert read_settings(tmp_path, CONCORD_DEBUG=value)["debug"] is False
