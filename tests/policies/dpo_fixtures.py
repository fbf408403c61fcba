"""Fixtures of the DPO run tests: the grounded task imported into a sprint through the import
service, its consensus (the grounded answer ranked first, written as the consensus service
writes it), a real preference export of it, and the tiny causal LM under a base model root."""

import io
import json
from pathlib import Path

import pytest

from annotation.models import Item
from annotation.services.imports import import_items
from exports.models import DatasetVersion
from reviews.models import ConsensusLabel, ConsensusMethod
from tests.exports.export_fixtures import export
from tests.support.tiny_causal_lm import grounded_items, save_tiny_causal_lm

RUNS = "/api/v1/training-runs"
# Few quick steps: for the tests of what a run does, not of what it learns.
FAST = {"epochs": 1, "batch_size": 8, "learning_rate": 0.01, "max_length": 128, "device": "cpu"}
# What the tiny random model needs to learn the grounded task (to read which topic was asked):
# 400 items and five epochs at a large rate (the held-out margin rose from about 0 to 11-16
# on three seeds of the data, where 80 items or three epochs moved it by chance only).
LEARNS = {**FAST, "epochs": 5, "batch_size": 16}


def grounded_dataset(lead, sprint, *, count: int = 40, **filters) -> DatasetVersion:
    """``count`` grounded items imported into ``sprint``, each labelled with the grounded
    answer ``a`` first, exported as a preference JSONL. The export's test split is left out:
    it splits by question, and the grounded task has eight questions, so a test split would
    ask about topics no training pair asked about; the run holds out a seeded share of the
    items instead."""
    lines = "".join(json.dumps(item) + "\n" for item in grounded_items(count, seed=1))
    import_items(sprint, io.BytesIO(lines.encode()), filename="items.jsonl", actor=lead)
    for item in Item.objects.filter(sprint=sprint):
        ConsensusLabel.objects.create(
            sprint=sprint, item=item, ranking=["a", "b"], tie=False, strength=2.0,
            method=ConsensusMethod.MAJORITY, confidence=0.9, agreement=1.0, answers={},
            judgment_ids=[],
        )  # fmt: skip
    return export(lead, sprint, **filters)


@pytest.fixture
def base_root(settings, tmp_path) -> Path:
    """The base model root of these tests, holding ``tiny`` (the tiny causal LM) and
    ``tiny-chat`` (the same with a chat template)."""
    settings.CONCORD_BASE_MODEL_ROOTS = [str(tmp_path)]
    save_tiny_causal_lm(tmp_path / "tiny")
    save_tiny_causal_lm(tmp_path / "tiny-chat", chat_template=True)
    return tmp_path


def start_dpo(client, dataset, base_model="tiny", **options):
    """``POST /training-runs`` of a dpo run; the response."""
    body = {"dataset": dataset.pk, "kind": "dpo", "base_model": base_model, **options}
    return client.post(RUNS, body, format="json")


def mean(values) -> float:
    return sum(values) / len(values)
