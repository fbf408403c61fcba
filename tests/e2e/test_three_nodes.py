"""The deployment the README describes, on one machine: a web node, a ``default`` worker and a
``gpu`` worker, three processes with three data directories, sharing only PostgreSQL, Redis and
an S3 endpoint (moto's standalone server on loopback).

Through the REST API of the web node: import a sprint's items, three annotators label every
item (the default worker computes each item's consensus), export (built on the default worker),
train a reward model (on the gpu worker, which reads the export from the store), promote it and
score with it (on the web node, which stages the model from the store). Nothing may touch
another node's data directory: every file that appears in one is a file that node was expected
to write, and no database row names any node's directory.
"""

import hashlib
import json
import math
import random
import re
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from annotation.models import Criterion, CriterionKind, Rubric, Sprint, SprintMember, SprintRole
from tests.support import s3_server
from tests.support.nodes import Cluster, rows_mentioning, running_cluster, tree, wait_until
from tests.training.trainer_fixtures import FACTS, save_tiny_decoder, scrambled
from training.models import TrainingRun

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

ITEMS = FACTS[:16]
ANNOTATORS = ("ann1", "ann2", "ann3")
PEOPLE = {"lead": SprintRole.LEAD, **dict.fromkeys(ANNOTATORS, SprintRole.ANNOTATOR)}
BASE_MODEL = "tiny-decoder"
# Seconds: bounds for a broken run on a loaded machine, never a measurement.
JOB_TIMEOUT = 240


class Api(requests.Session):
    """Token-authenticated calls to the web node's ``/api/v1``."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers["Authorization"] = f"Token {token}"

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", 300)
        return super().request(method, f"{self.base_url}/api/v1{url}", *args, **kwargs)


def people_and_sprint() -> tuple[Sprint, dict[str, str]]:
    """A sprint of three-way overlap under a one-question preference rubric, its lead and
    three annotators, and each person's API token (made in the database, as an operator's
    ``manage.py`` would)."""
    rubric = Rubric.objects.create(name="Facts", guidelines="Prefer the fluent, correct answer.")
    Criterion.objects.create(
        rubric=rubric,
        name="preference",
        kind=CriterionKind.PREFERENCE,
        question="Which answer is better?",
        config={"allow_tie": False},
        position=0,
    )
    sprint = Sprint.objects.create(
        name="Facts", slug="facts", rubric=rubric, status="active", overlap_k=len(ANNOTATORS)
    )
    users = get_user_model().objects
    tokens = {}
    for username, role in PEOPLE.items():
        user = users.create_user(username=username, is_staff=role == SprintRole.LEAD)
        SprintMember.objects.create(sprint=sprint, user=user, role=role)
        tokens[username] = Token.objects.create(user=user).key
    return sprint, tokens


def import_file() -> bytes:
    """One JSONL row per fact: the answer (response ``a``) and the same words scrambled."""
    rng = random.Random(0)
    rows = [
        {
            "external_id": f"fact-{n}",
            "prompt": question,
            "responses": [{"id": "a", "text": answer}, {"id": "b", "text": scrambled(answer, rng)}],
        }
        for n, (question, answer) in enumerate(ITEMS)
    ]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def label_everything(api: Api, sprint_id: int) -> int:
    """Take items until the queue is empty, ranking the factual answer first; returns how many
    judgments were stored."""
    answers = dict(ITEMS)
    stored = 0
    while (served := api.get(f"/sprints/{sprint_id}/next")).status_code == 200:
        body = served.json()
        item = body["item"]
        factual = answers[item["prompt"]]
        ranking = [r["id"] for r in sorted(item["responses"], key=lambda r: r["text"] != factual)]
        submitted = api.post(
            "/judgments",
            json={
                "assignment": body["assignment"],
                "answers": {"preference": {"ranking": ranking}},
            },
            headers={"Idempotency-Key": f"judgment-{body['assignment']}"},
        )
        assert submitted.status_code == 201, submitted.text
        stored += 1
    assert served.status_code == 204, served.text
    return stored


def status_of(api: Api, path: str) -> dict:
    response = api.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def run_job(api: Api, path: str, body: dict, cluster: Cluster) -> dict:
    """Start a background job (``POST path``: 202), wait for it to end, and return it done."""
    started = api.post(path, json=body)
    assert started.status_code == 202, started.text
    job = wait_until(
        lambda: status_of(api, f"{path}/{started.json()['id']}"),
        lambda found: found["status"] not in ("queued", "running"),
        timeout=JOB_TIMEOUT, what=f"the job of POST {path}", cluster=cluster,
    )  # fmt: skip
    assert job["status"] == "done", (job, cluster.logs())
    return job


@pytest.fixture
def s3_env(s3_endpoint: str) -> dict[str, str]:
    """The object store every node shares: moto's server, under a prefix of this test's own."""
    return {
        "CONCORD_STORAGE": "s3",
        "CONCORD_S3_ENDPOINT_URL": s3_endpoint,
        "CONCORD_S3_BUCKET": s3_server.BUCKET,
        "CONCORD_S3_REGION": s3_server.REGION,
        "CONCORD_S3_ACCESS_KEY_ID": s3_server.ACCESS_KEY_ID,
        "CONCORD_S3_SECRET_ACCESS_KEY": s3_server.SECRET_ACCESS_KEY,
        "CONCORD_S3_PREFIX": f"three-nodes-{uuid.uuid4().hex[:12]}",
    }


def bucket_objects(env: dict[str, str]) -> dict[str, bytes]:
    """Every object under the test's prefix, name (without the prefix) -> bytes."""
    client = boto3.client(
        "s3",
        endpoint_url=env["CONCORD_S3_ENDPOINT_URL"],
        region_name=env["CONCORD_S3_REGION"],
        aws_access_key_id=env["CONCORD_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["CONCORD_S3_SECRET_ACCESS_KEY"],
    )
    bucket, prefix = env["CONCORD_S3_BUCKET"], env["CONCORD_S3_PREFIX"] + "/"
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        entry["Key"].removeprefix(prefix): client.get_object(Bucket=bucket, Key=entry["Key"])[
            "Body"
        ].read()
        for entry in listed
    }


@pytest.fixture
def cluster(tmp_path: Path, s3_env: dict[str, str]):
    """The three nodes, each with an empty data directory of its own; the tiny base model lies
    outside all of them. Stopped (by process group) after the test, their logs printed."""
    from django.db import connection

    roots = tmp_path / "base-models"
    save_tiny_decoder(roots / BASE_MODEL)
    shared = {"CONCORD_BASE_MODEL_ROOTS": str(roots), "HF_HUB_OFFLINE": "1", **s3_env}
    cluster = Cluster(
        root=tmp_path / "nodes",
        database_name=str(connection.settings_dict["NAME"]),
        shared_env=shared,
    )
    with running_cluster(cluster):
        yield cluster


def ran(log: str, task: str) -> bool:
    return re.search(rf"Task {re.escape(task)}\[[0-9a-f-]+\] succeeded", log) is not None


def test_import_label_export_train_promote_and_score_across_three_nodes(cluster, s3_env):
    phases = {"start the nodes": cluster.started_at, "import and label": time.monotonic()}
    sprint, tokens = people_and_sprint()
    lead = Api(cluster.web.url, tokens["lead"])

    imported = lead.post(
        f"/sprints/{sprint.pk}/items/import", files={"file": ("facts.jsonl", import_file())}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["created"] == len(ITEMS)

    for username in ANNOTATORS:
        assert label_everything(Api(cluster.web.url, tokens[username]), sprint.pk) == len(ITEMS)
    phases["consensus"] = time.monotonic()
    # Each judgment's review runs on the default worker, which writes the item's consensus.
    labels = wait_until(
        lambda: status_of(lead, f"/sprints/{sprint.pk}/consensus")["count"],
        lambda count: count == len(ITEMS),
        timeout=JOB_TIMEOUT, what="a consensus label for every item", cluster=cluster,
    )  # fmt: skip
    assert labels == len(ITEMS)

    phases["export"] = time.monotonic()
    export = run_job(lead, "/exports", {"sprints": [sprint.pk], "format": "jsonl"}, cluster)
    export_id = export["id"]
    assert export["rows"] == len(ITEMS)
    download = lead.get(f"/exports/{export_id}/download")
    assert download.status_code == 200, download.text
    assert hashlib.sha256(download.content).hexdigest() == export["sha256"]
    rows = [json.loads(line) for line in download.content.splitlines()]
    assert {row["prompt"]: row["chosen"] for row in rows} == dict(ITEMS), "the annotators' choice"

    phases["train"] = time.monotonic()
    options = {"epochs": 2, "batch_size": 4, "max_length": 32, "device": "cpu"}
    run = run_job(
        lead, "/training-runs", {"dataset": export_id, "base_model": BASE_MODEL, **options}, cluster
    )
    run_id = run["id"]
    model_id = run["model_version"]

    phases["promote and score"] = time.monotonic()
    promoted = lead.post(f"/models/{model_id}/promote", json={"stage": "production"})
    assert promoted.status_code == 200, promoted.text
    scored = lead.post(
        f"/models/{model_id}/score",
        json={"prompt": ITEMS[0][0], "responses": [ITEMS[0][1], "Paris capital France is the of"]},
    )
    assert scored.status_code == 200, scored.text
    scores = scored.json()["scores"]
    assert len(scores) == 2 and all(math.isfinite(score) for score in scores)

    phases["stop and check"] = time.monotonic()
    cluster.stop()
    logs = {name: node.process.log_since_start() for name, node in cluster.nodes.items()}
    assert ran(logs["default"], "exports.tasks.build_dataset")
    assert not ran(logs["gpu"], "exports.tasks.build_dataset")
    assert ran(logs["gpu"], "training.tasks.train_reward_model")
    assert not ran(logs["default"], "training.tasks.train_reward_model")

    # The store holds the export and the model; the checksums hold end to end.
    stored = bucket_objects(s3_env)
    export_name = f"exports/dataset-{export_id}.jsonl"
    assert hashlib.sha256(stored[export_name]).hexdigest() == export["sha256"]
    assert stored[export_name] == download.content
    trained = TrainingRun.objects.get(pk=run_id)
    model_prefix = trained.artifacts_dir.rstrip("/") + "/"
    model_files = {
        name.removeprefix(model_prefix) for name in stored if name.startswith(model_prefix)
    }
    assert {"model.safetensors", "config.json", "manifest.json"} <= model_files
    manifest = stored[model_prefix + "manifest.json"]
    assert hashlib.sha256(manifest).hexdigest() == trained.artifacts_sha256
    for relative, entry in json.loads(manifest)["files"].items():
        assert hashlib.sha256(stored[model_prefix + relative]).hexdigest() == entry["sha256"]

    # Each data directory started empty. The default worker keeps nothing (its partial file was
    # uploaded); the gpu worker keeps only its verified copy of the export, the web node only
    # its verified copy of the model, each in its own artifact cache, keyed by content hash.
    files = {name: sorted(tree(path)) for name, path in cluster.data_dirs().items()}
    print(json.dumps(files, indent=1))
    assert files["default"] == []
    assert files["gpu"] == [f"artifact-cache/{export['sha256']}/dataset-{export_id}.jsonl"]
    assert files["web"] == sorted(
        f"artifact-cache/{trained.artifacts_sha256}/{relative}" for relative in model_files
    )
    assert rows_mentioning([str(cluster.root), str(cluster.root.resolve())]) == []
    ends = [*list(phases.values())[1:], time.monotonic()]
    spent = ", ".join(
        f"{name} {end - at:.1f} s" for (name, at), end in zip(phases.items(), ends, strict=True)
    )
    print(f"three-node test: {ends[-1] - cluster.started_at:.1f} s wall time ({spent})")
