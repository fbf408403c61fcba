"""Fixtures of the training tests: preference dataset versions written as real files under
the data directory (the exact format of a preference export), a second lead, registered
model versions, and one small reward model trained for real once per test session."""

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from annotation.models import SprintMember, SprintRole
from exports.models import DatasetVersion
from training.models import ModelStage, ModelVersion, RunStatus, TrainingRun

FACTS = [
    ("the capital of France", "Paris"),
    ("the capital of Japan", "Tokyo"),
    ("the largest planet", "Jupiter"),
    ("the boiling point of water at sea level", "100 degrees Celsius"),
    ("the chemical symbol for gold", "Au"),
    ("the author of Hamlet", "William Shakespeare"),
    ("the longest river in Africa", "the Nile"),
    ("the speed of light in vacuum", "about 300,000 kilometres per second"),
    ("the smallest prime number", "2"),
    ("the freezing point of water", "0 degrees Celsius"),
    ("the capital of Italy", "Rome"),
    ("the tallest mountain on Earth", "Mount Everest"),
    ("the closest star to Earth", "the Sun"),
    ("the main gas in the air we breathe", "nitrogen"),
    ("the number of continents", "seven"),
    ("the inventor of the telephone", "Alexander Graham Bell"),
    ("the capital of Canada", "Ottawa"),
    ("the hardest natural material", "diamond"),
    ("the currency of Japan", "the yen"),
    ("the largest ocean", "the Pacific Ocean"),
    ("the capital of Spain", "Madrid"),
    ("the planet known as the red planet", "Mars"),
    ("the square root of 81", "9"),
    ("the language spoken in Brazil", "Portuguese"),
]


def scrambled(text: str, seed: int) -> str:
    """The words of ``text`` in a scrambled order, letters of each word reversed: the easy
    negative of the synthetic preference."""
    import random

    words = [word[::-1] for word in text.split()]
    random.Random(seed).shuffle(words)
    return " ".join(words)


def synthetic_pairs(count: int, *, test_share: float = 0.25) -> list[dict]:
    """``count`` preference rows: the factual answer is chosen over a scrambled copy of it.
    The last ``test_share`` of the rows are the test split."""
    rows = []
    test_from = count - round(count * test_share)
    for index in range(count):
        subject, answer = FACTS[index % len(FACTS)]
        variant = index // len(FACTS)
        prompt = f"What is {subject}?" if variant % 2 == 0 else f"Tell me {subject}, please."
        chosen = f"{answer[0].upper()}{answer[1:]} is {subject}."
        rows.append(
            {
                "prompt": prompt,
                "chosen": chosen,
                "rejected": scrambled(chosen, index),
                "margin": None,
                "agreement": 1.0,
                "item_id": index + 1,
                "split": "test" if index >= test_from else "train",
            }
        )
    return rows


@pytest.fixture
def make_dataset(db, lead) -> Callable[..., DatasetVersion]:
    """A dataset version with its file written under ``settings.DATA_DIR``, as the export
    pipeline leaves it. ``rows`` go to a JSONL (or Parquet) file; ``status``, ``kind`` and
    ``format`` may be set to make unusable ones."""

    def make(sprints, rows=None, *, fmt="jsonl", created_by=None, **fields) -> DatasetVersion:
        rows = synthetic_pairs(24) if rows is None else rows
        relative = Path("exports") / f"test-{uuid.uuid4().hex}.{fmt}"
        path = Path(settings.DATA_DIR) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), path)
        else:
            path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        values = {"kind": "preference", "status": "done", "rows": len(rows), **fields}
        dataset = DatasetVersion.objects.create(
            format=fmt, file_path=relative.as_posix(), created_by=created_by or lead, **values
        )
        dataset.sprints.set(sprints)
        return dataset

    return make


@pytest.fixture
def dataset(make_dataset, sprint) -> DatasetVersion:
    return make_dataset([sprint])


@pytest.fixture
def lead_b(make_user, other_sprint):
    """The lead of the other sprint: sees nothing of sprint A's training."""
    user = make_user("lead-b", is_staff=True)
    SprintMember.objects.create(sprint=other_sprint, user=user, role=SprintRole.LEAD)
    return user


@pytest.fixture
def lead_admin_client(lead) -> Client:
    """A logged-in browser session of the lead (staff, in no group: the training admin opens
    to leads by their sprint role, not by model permissions)."""
    client = Client()
    client.force_login(lead)
    return client


@pytest.fixture
def make_model_version(db, lead):
    """A done run and its registered version, made directly (no training): for registry and
    permission tests. ``artifacts_dir`` points at real artifacts only when given."""

    def make(dataset, *, name="reward-a", version=1, stage=ModelStage.CANDIDATE, **run_fields):
        values = {"base_model": "base", "finished_at": timezone.now(), **run_fields}
        run = TrainingRun.objects.create(
            dataset=dataset,
            model_name=name,
            status=RunStatus.DONE,
            progress=1.0,
            created_by=lead,
            **values,
        )
        model = ModelVersion.objects.create(
            name=name, version=version, run=run, stage=stage, metrics=run.metrics
        )
        model.sprints.set(dataset.sprints.all())
        return model

    return make


def wait_for(fetch: Callable[[], object], done: Callable[[object], bool], timeout: float = 180):
    """Poll ``fetch()`` until ``done(value)``; return every distinct value seen, in order.
    The timeout only bounds a broken run; nothing asserts on how long it took."""
    seen: list = []
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if not seen or seen[-1] != value:
            seen.append(value)
        if done(value):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting; seen so far: {seen}")
        time.sleep(0.05)


SESSION_MODEL_DIR = Path("training") / "runs" / "test-session-model"


@pytest.fixture(scope="session")
def trained_model_dir() -> Path:
    """A small reward model trained for real, once per session, on the easy synthetic pairs
    (in-process, CPU, max length 64), in the data directory where a run's artifacts live."""
    import shutil

    from training.services.trainer import DEFAULT_BASE_MODEL, TrainConfig, train_reward_model

    rows = synthetic_pairs(32)
    output = Path(settings.DATA_DIR) / SESSION_MODEL_DIR
    shutil.rmtree(output, ignore_errors=True)
    config = TrainConfig(
        base_model=DEFAULT_BASE_MODEL, max_length=64, epochs=2, batch_size=8, device="cpu", seed=1
    )
    train_reward_model(
        config,
        [row for row in rows if row["split"] == "train"],
        [row for row in rows if row["split"] == "test"],
        output,
    )
    return output


@pytest.fixture
def trained_model_version(make_model_version, dataset, trained_model_dir):
    """A production model version whose artifacts are the session's trained model."""
    metrics = json.loads((trained_model_dir / "metrics.json").read_text())
    return make_model_version(
        dataset,
        stage=ModelStage.PRODUCTION,
        artifacts_dir=SESSION_MODEL_DIR.as_posix(),
        metrics=metrics,
    )
