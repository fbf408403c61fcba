"""Reading a preference dataset version for training: JSONL and Parquet, the test split or a
seeded hold-out by item, refusals with reasons, and which datasets a user leads."""

from pathlib import Path

import pytest
from django.conf import settings

from annotation.models import SprintMember, SprintRole
from exports.models import DatasetVersion
from tests.training.conftest import synthetic_pairs
from training.services.datasets import (
    DatasetUnusable,
    datasets_led_by,
    datasets_visible_to,
    read_preference_rows,
    split_rows,
)

pytestmark = pytest.mark.django_db


def as_chat(row: dict) -> dict:
    return {
        **row,
        "prompt": [{"role": "user", "content": row["prompt"]}],
        "chosen": [{"role": "assistant", "content": row["chosen"]}],
        "rejected": [{"role": "assistant", "content": row["rejected"]}],
    }


@pytest.mark.parametrize(
    "fmt, chat_rows",
    [("jsonl", {0}), ("parquet", set()), ("parquet", set(range(8)))],
    ids=["jsonl-mixed", "parquet-standard", "parquet-conversational"],
)
def test_rows_are_read_back_in_both_formats(sprint, make_dataset, fmt, chat_rows):
    rows = synthetic_pairs(8)
    rows = [as_chat(row) if index in chat_rows else row for index, row in enumerate(rows)]
    rows[1]["margin"] = 1.5
    dataset = make_dataset([sprint], rows, fmt=fmt)
    read = read_preference_rows(dataset)
    assert [row["chosen"] for row in read] == [row["chosen"] for row in rows]
    assert [row["prompt"] for row in read] == [row["prompt"] for row in rows]
    assert read[1]["margin"] == 1.5 and read[2]["margin"] is None
    assert [row["split"] for row in read] == [row["split"] for row in rows]


def test_the_test_split_of_the_file_is_used():
    splits = split_rows(synthetic_pairs(20), seed=0)
    assert splits.test_source == "dataset" and splits.holdout_share is None
    assert (len(splits.train), len(splits.test)) == (15, 5)


def test_without_a_test_split_whole_items_are_held_out_seeded():
    rows = [dict(row, split="train") for row in synthetic_pairs(20)]
    # Two pairs from each item (an item with three responses gives several pairs).
    rows = [dict(row, item_id=index // 2) for index, row in enumerate(rows)]
    first = split_rows(rows, seed=5, holdout_share=0.2)
    again = split_rows(rows, seed=5, holdout_share=0.2)
    other = split_rows(rows, seed=6, holdout_share=0.2)
    assert first.test_source == "holdout" and first.holdout_share == 0.2
    assert len(first.test) == 4 and len(first.train) == 16
    assert first.test == again.test and first.test != other.test
    held = {row["item_id"] for row in first.test}
    assert not held & {row["item_id"] for row in first.train}, "no item on both sides"


def test_the_default_holdout_share_is_a_setting(settings):
    settings.CONCORD_TRAINING_HOLDOUT_SHARE = 0.5
    rows = [dict(row, split="train") for row in synthetic_pairs(10)]
    assert len(split_rows(rows, seed=0).test) == 5


def test_one_item_cannot_be_split():
    rows = [dict(row, item_id=1, split="train") for row in synthetic_pairs(4)]
    with pytest.raises(DatasetUnusable, match="at least two items"):
        split_rows(rows, seed=0)


def test_a_row_without_chosen_is_named(sprint, make_dataset):
    rows = synthetic_pairs(4)
    rows[2]["chosen"] = ""
    with pytest.raises(DatasetUnusable, match=r"Row 3 of dataset \d+ has no 'chosen'"):
        read_preference_rows(make_dataset([sprint], rows))


def test_a_missing_file_or_a_path_outside_the_data_directory(sprint, make_dataset):
    dataset = make_dataset([sprint])
    (Path(settings.DATA_DIR) / dataset.file_path).unlink()
    with pytest.raises(DatasetUnusable, match="is missing"):
        read_preference_rows(dataset)
    DatasetVersion.objects.filter(pk=dataset.pk).update(file_path="../../etc/passwd")
    dataset.refresh_from_db()
    with pytest.raises(DatasetUnusable, match="no file inside the data directory"):
        read_preference_rows(dataset)


def test_a_lead_leads_datasets_whose_every_sprint_they_lead(
    lead, annotator, sprint, other_sprint, make_dataset, make_user
):
    only_a = make_dataset([sprint])
    both = make_dataset([sprint, other_sprint])
    only_b = make_dataset([other_sprint])
    assert list(datasets_led_by(lead)) == [only_a]
    assert set(datasets_visible_to(lead)) == {only_a, both}
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.LEAD)
    assert set(datasets_led_by(lead)) == {only_a, both, only_b}
    assert not datasets_led_by(annotator).exists()
    assert set(datasets_visible_to(annotator)) == {only_a, both}
    root = make_user("root", is_superuser=True)
    assert datasets_led_by(root).count() == 3
