"""Exports in an S3 artifact store (moto's standalone server, tests/support/s3_server.py):
the file and its manifest are built locally, uploaded, and served from the bucket with the
digest recorded; a signed URL redirect works and expires; a missing object is a 404."""

import hashlib
import urllib.request
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from django.conf import settings

from exports.services.files import final_name, manifest_name
from tests.exports.export_fixtures import export, labelled_item

pytestmark = pytest.mark.django_db


def download(client, dataset):
    return client.get(f"/api/v1/exports/{dataset.pk}/download")


def test_an_export_goes_to_the_bucket_and_downloads_with_its_digest(
    lead, sprint, s3_store, api_client_for
):
    for n in range(30):
        labelled_item(sprint, n)
    dataset = export(lead, sprint)

    assert dataset.file_path == final_name(dataset) == f"exports/dataset-{dataset.pk}.jsonl"
    stored = s3_store.read(dataset.file_path)
    assert hashlib.sha256(stored).hexdigest() == dataset.sha256
    assert len(stored.splitlines()) == dataset.rows == 30
    manifest = orjson.loads(s3_store.read(manifest_name(dataset)))
    assert manifest == dataset.manifest and manifest["sha256"] == dataset.sha256
    # Nothing of it stays in the building process's data directory.
    assert not list((settings.DATA_DIR / "exports").glob("*"))

    response = download(api_client_for(lead), dataset)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == dataset.sha256 == response["X-Content-SHA256"]
    assert response["Content-Disposition"].startswith("attachment;")
    assert int(response["Content-Length"]) == len(body)


def test_a_rebuild_after_a_dead_build_replaces_what_it_left_in_the_bucket(lead, sprint, s3_store):
    from exports.services.files import remove_leftovers

    labelled_item(sprint, 1)
    dataset = export(lead, sprint)
    assert remove_leftovers(dataset) == 2  # the file and its manifest
    assert s3_store.names() == []


def test_a_signed_url_redirect_serves_the_file_and_expires(
    lead, sprint, s3_store, api_client_for, settings
):
    """moto's server answers a signed URL but never refuses an expired one, so the expiry is
    checked in the signed parameters (SigV4 signs X-Amz-Date and X-Amz-Expires: S3, MinIO and
    R2 answer 403 past them)."""
    labelled_item(sprint, 1)
    dataset = export(lead, sprint)
    settings.CONCORD_DOWNLOAD_SIGNED_URLS = True
    settings.CONCORD_SIGNED_URL_SECONDS = 120
    client = api_client_for(lead)

    response = download(client, dataset)
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(f"{s3_store.client.meta.endpoint_url}/{s3_store.bucket}/")
    assert response["X-Content-SHA256"] == dataset.sha256
    with urllib.request.urlopen(url, timeout=10) as signed:
        assert hashlib.sha256(signed.read()).hexdigest() == dataset.sha256
        assert signed.headers["Content-Disposition"] == (
            f'attachment; filename="concord-preference-{dataset.pk}.jsonl"'
        )

    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["120"] and query["X-Amz-Signature"]
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((signed_at - datetime.now(UTC)).total_seconds()) < 60

    # Someone who may not see the export gets no URL.
    assert download(api_client_for(None), dataset).status_code == 401


def test_signed_urls_on_a_local_store_still_stream(lead, sprint, api_client_for, settings):
    labelled_item(sprint, 1)
    dataset = export(lead, sprint)
    settings.CONCORD_DOWNLOAD_SIGNED_URLS = True
    response = download(api_client_for(lead), dataset)
    assert response.status_code == 200
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == dataset.sha256


def test_an_object_gone_from_the_bucket_is_a_404(lead, sprint, s3_store, api_client_for):
    labelled_item(sprint, 1)
    dataset = export(lead, sprint)
    s3_store.client.delete_object(Bucket=s3_store.bucket, Key=s3_store.key(dataset.file_path))
    response = download(api_client_for(lead), dataset)
    assert response.status_code == 404
    assert response.json()["detail"] == "The file of this export is missing."


def test_an_unreachable_store_leaves_the_export_to_be_retried(lead, sprint, settings, monkeypatch):
    """The store goes away after the build started (its leftover check passed): the upload's
    connection error is retried by the task, not recorded as a failed export."""
    from botocore.config import Config
    from botocore.exceptions import EndpointConnectionError

    from exports.models import ExportStatus
    from exports.services.build import build_dataset, start_export
    from tests.support.s3_server import _free_loopback_port, artifact_storage_settings

    store = artifact_storage_settings(f"http://127.0.0.1:{_free_loopback_port()}", "nowhere")
    store["OPTIONS"]["client_config"] = Config(retries={"max_attempts": 1}, connect_timeout=1)
    settings.STORAGES = {**settings.STORAGES, "artifacts": store}
    monkeypatch.setattr("exports.services.files.remove_leftovers", lambda dataset: 0)
    labelled_item(sprint, 1)
    dataset = start_export(lead, {"sprints": [sprint.pk]}, enqueue_build=False)
    with pytest.raises(EndpointConnectionError):
        build_dataset(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == ExportStatus.RUNNING and dataset.error == ""  # the task retries
    assert not list((settings.DATA_DIR / "exports").glob("*.partial-*"))
