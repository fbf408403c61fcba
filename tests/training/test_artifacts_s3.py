"""Training and scoring with an S3 artifact store (moto's standalone server): the run reads
its dataset from the bucket through the verified cache, uploads its artifacts with a manifest
of digests, and scoring stages and verifies them; a tampered object fails with the reason."""

import hashlib
import json

import pytest
from django.conf import settings

from annotation.services import artifact_store
from tests.training.conftest import synthetic_pairs
from training.models import ModelStage, ModelVersion, RunStatus
from training.services import scoring
from training.services.runs import execute_training_run, run_output_dir, start_training_run

pytestmark = pytest.mark.django_db

TINY = {"epochs": 1, "batch_size": 8, "max_length": 32, "device": "cpu", "seed": 3}


@pytest.fixture
def stored_dataset(make_dataset, sprint, s3_store):
    """A preference dataset whose file is only in the bucket, with its digest recorded."""
    data = "".join(json.dumps(row) + "\n" for row in synthetic_pairs(16)).encode()
    dataset = make_dataset([sprint], rows=[])  # the row; its local file is not used
    name = f"exports/dataset-{dataset.pk}.jsonl"
    s3_store.write(name, data)
    dataset.file_path, dataset.sha256, dataset.rows = name, hashlib.sha256(data).hexdigest(), 16
    dataset.save(update_fields=["file_path", "sha256", "rows"])
    return dataset


@pytest.fixture
def trained_run(lead, stored_dataset):
    run = start_training_run(stored_dataset, actor=lead, options=TINY, enqueue=False)
    return execute_training_run(run.pk)


def test_a_run_trains_from_the_bucket_and_uploads_its_artifacts(
    trained_run, stored_dataset, s3_store
):
    run = trained_run
    assert run.status == RunStatus.DONE, run.error
    # The dataset was staged into the cache under its digest, verified.
    staged = settings.CONCORD_ARTIFACT_CACHE_DIR / stored_dataset.sha256
    assert (staged / f"dataset-{stored_dataset.pk}.jsonl").is_file()

    names = [n for n in s3_store.names() if n.startswith(run.artifacts_dir + "/")]
    files = {n.removeprefix(run.artifacts_dir + "/") for n in names}
    assert {"model.safetensors", "config.json", "concord_run.json", "manifest.json"} <= files
    manifest_bytes = s3_store.read(f"{run.artifacts_dir}/manifest.json")
    assert hashlib.sha256(manifest_bytes).hexdigest() == run.artifacts_sha256
    listed = json.loads(manifest_bytes)["files"]
    assert set(listed) == files - {"manifest.json"}
    for relative, entry in listed.items():
        data = s3_store.read(f"{run.artifacts_dir}/{relative}")
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    provenance = json.loads(s3_store.read(f"{run.artifacts_dir}/concord_run.json"))
    assert provenance["dataset"]["sha256"] == stored_dataset.sha256
    # The worker's scratch folder is gone once uploaded.
    assert not run_output_dir(run.pk)[0].exists()


def test_scoring_stages_and_verifies_the_model(trained_run, s3_store, api_client_for, lead):
    model = ModelVersion.objects.get(run=trained_run)
    ModelVersion.objects.filter(pk=model.pk).update(stage=ModelStage.PRODUCTION)
    scoring.clear_scorer_cache()
    response = api_client_for(lead).post(
        f"/api/v1/models/{model.pk}/score",
        {"prompt": "How do I reset my password?", "responses": ["Use the link.", "No."]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert len(response.json()["scores"]) == 2
    folder = settings.CONCORD_ARTIFACT_CACHE_DIR / trained_run.artifacts_sha256
    assert (folder / "model.safetensors").is_file()
    assert (folder / "manifest.json").read_bytes() == s3_store.read(
        f"{trained_run.artifacts_dir}/manifest.json"
    )


def test_a_tampered_model_in_the_bucket_is_refused_by_name(trained_run, s3_store):
    model = ModelVersion.objects.get(run=trained_run)
    s3_store.write(f"{trained_run.artifacts_dir}/model.safetensors", b"not the trained weights")
    with pytest.raises(scoring.ArtifactsMissing) as refused:
        scoring.artifacts_path(model)
    message = str(refused.value)
    assert "model.safetensors does not match its recorded SHA-256" in message
    assert refused.value.status == 409
    # Nothing unverified is left in the cache under the final name.
    folder = settings.CONCORD_ARTIFACT_CACHE_DIR / trained_run.artifacts_sha256
    assert not (folder / "model.safetensors").exists()


def test_a_tampered_cached_copy_is_caught_before_use(trained_run):
    model = ModelVersion.objects.get(run=trained_run)
    folder = scoring.artifacts_path(model)
    (folder / "config.json").write_text("{}")
    with pytest.raises(scoring.ArtifactsMissing, match=r"config\.json does not match"):
        scoring.artifacts_path(model)


def test_a_tampered_dataset_in_the_bucket_fails_the_run_with_the_reason(
    lead, stored_dataset, s3_store
):
    s3_store.write(stored_dataset.file_path, b'{"prompt": "p", "chosen": "x", "rejected": "y"}\n')
    run = start_training_run(stored_dataset, actor=lead, options=TINY, enqueue=False)
    run = execute_training_run(run.pk)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(
        f"The file of dataset {stored_dataset.pk} does not match its recorded SHA-256 "
        f"(expected {stored_dataset.sha256}, found "
    )
    assert not ModelVersion.objects.exists()
    cached = settings.CONCORD_ARTIFACT_CACHE_DIR / stored_dataset.sha256
    assert not cached.exists() or not any(cached.iterdir())


def test_a_dataset_gone_from_the_bucket_fails_the_run(lead, stored_dataset, s3_store):
    s3_store.client.delete_object(
        Bucket=s3_store.bucket, Key=s3_store.key(stored_dataset.file_path)
    )
    run = execute_training_run(
        start_training_run(stored_dataset, actor=lead, options=TINY, enqueue=False).pk
    )
    assert run.status == RunStatus.FAILED
    assert run.error == (
        f"The file of dataset {stored_dataset.pk} is missing: {stored_dataset.file_path}"
    )


def test_the_local_store_records_and_verifies_a_manifest_too(lead, dataset):
    run = start_training_run(dataset, actor=lead, options=TINY, enqueue=False)
    run = execute_training_run(run.pk)
    assert run.status == RunStatus.DONE, run.error
    folder = artifact_store.local_path(run.artifacts_dir)
    assert folder == settings.DATA_DIR / run.artifacts_dir
    manifest = folder / "manifest.json"
    assert hashlib.sha256(manifest.read_bytes()).hexdigest() == run.artifacts_sha256
    model = ModelVersion.objects.get(run=run)
    assert scoring.artifacts_path(model) == folder
    (folder / "model.safetensors").write_bytes(b"changed")
    with pytest.raises(scoring.ArtifactsMissing, match=r"model\.safetensors does not match"):
        scoring.artifacts_path(model)
