"""What the evaluation tests stand on: a sprint of grounded items and its preference export
written as a real file (a test split of items still in the sprint), a candidate and a
production baseline whose tiny causal LMs differ (so their answers differ), and a real reward
model trained once per session on the same items (tests/training/tiny_bert.py)."""

import json
import shutil
import uuid
from pathlib import Path

import pytest
import torch
from django.conf import settings

from annotation.models import Item, Response
from annotation.services import artifact_store
from exports.models import DatasetVersion
from exports.services.prompt_rendering import PromptRendering
from tests.support.builders import policy_version, training_run
from tests.support.tiny_causal_lm import grounded_items, save_tiny_causal_lm
from training.models import ModelStage, ModelVersion, PolicyVersion
from training.services.runs import run_output_dir

EVALUATIONS = "/api/v1/evaluations"
TEST_ITEMS = 4


def grounded_sprint_items(sprint, count: int = 12) -> list[Item]:
    """``count`` grounded items (two documents each) in ``sprint``, as an import leaves them."""
    made = []
    for index, row in enumerate(grounded_items(count, seed=3)):
        item = Item.objects.create(
            sprint=sprint, external_id=row["external_id"], prompt=row["prompt"],
            context=row["context"], content_sha256=f"{index:064x}",
        )  # fmt: skip
        for position, response in enumerate(row["responses"]):
            Response.objects.create(item=item, key=response["id"], text=response["text"],
                                    model_name=response["model"], position=position)  # fmt: skip
        made.append(item)
    return made


def grounded_export(sprint, by, items: list[Item]) -> DatasetVersion:
    """A done JSONL preference export of ``items`` with the default rendering (documents in
    the prompt); the last :data:`TEST_ITEMS` items are its test split."""
    rendering = PromptRendering()
    rows = []
    for index, item in enumerate(items):
        chosen, rejected = (r.text for r in item.responses.order_by("position"))
        rows.append({
            "prompt": rendering.prompt(item.prompt, item.context), "chosen": chosen,
            "rejected": rejected, "margin": None, "agreement": 1.0, "item_id": item.pk,
            "split": "test" if index >= len(items) - TEST_ITEMS else "train",
        })  # fmt: skip
    relative = Path("exports") / f"eval-{uuid.uuid4().hex}.jsonl"
    path = Path(settings.DATA_DIR) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    dataset = DatasetVersion.objects.create(
        kind="preference", format="jsonl", status="done", rows=len(rows),
        file_path=relative.as_posix(), created_by=by, manifest={"rendering": rendering.as_dict()},
    )  # fmt: skip
    dataset.sprints.set([sprint])
    return dataset


def perturbed_tiny_lm(directory: Path, seed: int) -> Path:
    """The tiny causal LM with its weights moved by seeded noise: another policy."""
    from transformers import AutoModelForCausalLM

    save_tiny_causal_lm(directory)
    model = AutoModelForCausalLM.from_pretrained(directory)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.5)
    model.save_pretrained(directory)
    return directory


def two_policies(dataset, lead, tmp_path: Path) -> tuple[PolicyVersion, PolicyVersion]:
    """Production ``support-policy`` v1 and candidate v2, with different weights."""
    baseline = policy_version(dataset, lead, stage=ModelStage.PRODUCTION)
    candidate = policy_version(dataset, lead, model_dir=perturbed_tiny_lm(tmp_path / "v2", 1))
    return candidate, baseline


@pytest.fixture
def grounded(db, sprint, lead, annotator, reviewer):
    """(sprint, dataset, items) with a lead, an annotator and a reviewer in the sprint."""
    items = grounded_sprint_items(sprint)
    return sprint, grounded_export(sprint, lead, items), items


@pytest.fixture
def policies(grounded, lead, tmp_path):
    return two_policies(grounded[1], lead, tmp_path)


def reward_model_of(dataset, lead, model_dir: Path) -> ModelVersion:
    """A production reward model of ``dataset`` whose artifacts are ``model_dir``'s files."""
    run = training_run(dataset, lead)
    folder, relative = run_output_dir(run.pk)
    shutil.rmtree(folder, ignore_errors=True)  # a run id SQLite gave out before
    shutil.copytree(model_dir, folder)
    run.artifacts_dir = relative
    run.artifacts_sha256 = artifact_store.publish_directory(folder, relative)
    run.save(update_fields=["artifacts_dir", "artifacts_sha256"])
    model = ModelVersion.objects.create(
        name="support-rm", version=1, run=run, stage=ModelStage.PRODUCTION, metrics={}
    )
    model.sprints.set(dataset.sprints.all())
    return model


@pytest.fixture(scope="session")
def grounded_reward_dir(tmp_path_factory) -> Path:
    """A reward model trained for real, once per session, on the tiny BERT (CPU, seconds) on
    grounded pairs: enough to score; how well is not what these tests are about."""
    from tests.training.tiny_bert import save_tiny_bert
    from training.services.trainer import TrainConfig, train_reward_model

    base = Path(save_tiny_bert(tmp_path_factory.mktemp("tiny-bert")))
    output = tmp_path_factory.mktemp("grounded-rm")
    rendering = PromptRendering()
    rows = []
    for index, row in enumerate(grounded_items(16, seed=5)):
        rows.append({
            "prompt": rendering.prompt(row["prompt"], row["context"]),
            "chosen": row["responses"][0]["text"], "rejected": row["responses"][1]["text"],
            "margin": None, "item_id": index, "split": "test" if index >= 12 else "train",
        })  # fmt: skip
    config = TrainConfig(base_model=str(base), max_length=64, epochs=1, batch_size=8,
                         device="cpu", seed=0)  # fmt: skip
    train_reward_model(config, rows[:12], rows[12:], output)
    return output
