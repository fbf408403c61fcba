"""The artifact store chosen by the environment: the data directory by default, an S3 bucket
with CONCORD_STORAGE=s3 (every CONCORD_S3_* knob reaching django-storages), and start-up
stopped when the bucket is missing."""

import json
from pathlib import Path

from tests.test_settings import run_python

PRINT_STORE = """
import json
import django
django.setup()
from django.conf import settings
from django.core.files.storage import storages
store = storages["artifacts"]
print(json.dumps({
    "backend": type(store).__module__ + "." + type(store).__name__,
    "location": str(store.location),
    "options": {k: v for k, v in settings.STORAGES["artifacts"].get("OPTIONS", {}).items()},
    "signed": settings.CONCORD_DOWNLOAD_SIGNED_URLS,
    "cache": str(settings.CONCORD_ARTIFACT_CACHE_DIR),
}))
"""


def store_of(tmp_path: Path, **env: str) -> dict:
    result = run_python(["-c", PRINT_STORE], tmp_path, SECRET_KEY="x" * 60, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_default_store_is_the_data_directory(tmp_path):
    store = store_of(tmp_path)
    assert store["backend"] == "annotation.services.artifact_store.DataDirStorage"
    assert store["location"] == str((tmp_path / "data").resolve())
    assert store["cache"] == str((tmp_path / "data" / "cache").resolve())
    assert store["signed"] is False


def test_an_s3_store_takes_every_knob(tmp_path):
    store = store_of(
        tmp_path,
        CONCORD_STORAGE="s3",
        CONCORD_S3_BUCKET="concord-artifacts",
        CONCORD_S3_ENDPOINT_URL="http://minio.internal:9000",
        CONCORD_S3_REGION="eu-west-1",
        CONCORD_S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        CONCORD_S3_SECRET_ACCESS_KEY="secret-example",
        CONCORD_S3_PREFIX="/concord/prod/",
        CONCORD_DOWNLOAD_SIGNED_URLS="1",
        CONCORD_SIGNED_URL_SECONDS="60",
        CONCORD_ARTIFACT_CACHE_DIR=str(tmp_path / "cache"),
    )
    assert store["backend"] == "storages.backends.s3.S3Storage"
    options = store["options"]
    assert options["bucket_name"] == "concord-artifacts"
    assert options["endpoint_url"] == "http://minio.internal:9000"
    assert options["region_name"] == "eu-west-1"
    assert (options["access_key"], options["secret_key"]) == ("AKIAEXAMPLE", "secret-example")
    assert options["location"] == store["location"] == "concord/prod"
    assert options["querystring_expire"] == 60 and store["signed"] is True
    assert store["cache"] == str(tmp_path / "cache")


def test_s3_without_a_bucket_stops_start_up(tmp_path):
    result = run_python(["-c", PRINT_STORE], tmp_path, SECRET_KEY="x" * 60, CONCORD_STORAGE="s3")
    assert result.returncode != 0
    assert "CONCORD_STORAGE=s3 needs CONCORD_S3_BUCKET." in result.stderr


def test_an_unknown_store_stops_start_up(tmp_path):
    result = run_python(["-c", PRINT_STORE], tmp_path, SECRET_KEY="x" * 60, CONCORD_STORAGE="ftp")
    assert result.returncode != 0
    assert "CONCORD_STORAGE must be one of local, s3, not 'ftp'." in result.stderr
