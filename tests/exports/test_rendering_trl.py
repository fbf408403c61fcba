"""A RAG sprint's export, with its context documents in the prompt, as the real clients take
it: Hugging Face ``datasets`` loads every form (standard, conversational, grouped) in JSONL and
Parquet, and TRL's RewardTrainer and DPOTrainer train on the standard and conversational files
unchanged, the documents in what they tokenize. TRL's trainers take one rejected answer per
row, so a grouped file goes through ``expand_grouped_rows`` (or ``Dataset.map`` with
``expand_grouped_batch``) first, the documented way. Tiny models, two steps: seconds each."""

import pytest
from datasets import Dataset

from exports.services.files import final_path
from exports.services.grouped import expand_grouped_batch, expand_grouped_rows
from exports.services.rows import PREFERENCE_COLUMNS
from tests.exports.export_fixtures import export
from tests.exports.rag_fixtures import rag_items
from tests.exports.trl_fixtures import (
    TRAINER_ARGS,
    load,
    minilm_tokenizer,
    tiny_policy,
    tiny_reward_model,
)

pytestmark = pytest.mark.django_db

# Long enough for a prompt with its documents: RewardTrainer drops longer rows, and a drop
# would hide documents from the test.
ARGS = {**TRAINER_ARGS, "max_length": 256}
ITEMS = 8
PAIRS = 12  # two items rank three responses (three pairs each), six rank two


@pytest.fixture
def tokenizer():
    return minilm_tokenizer()


@pytest.fixture
def rag_file(lead, sprint):
    rag_items(sprint, ITEMS)

    def make(form: str, fmt: str):
        return final_path(export(lead, sprint, fmt=fmt, test_fraction=0.25, form=form))

    return make


def saw_documents(tokenizer, ids) -> bool:
    text = tokenizer.decode(ids)
    return "account help" in text and "kb - 12" in text


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("form", ["standard", "conversational", "grouped"])
def test_datasets_loads_every_form(rag_file, form, fmt):
    data = load(rag_file(form, fmt), fmt)
    assert data.column_names == list(PREFERENCE_COLUMNS)
    assert data.num_rows == (ITEMS if form == "grouped" else PAIRS)
    first = data[0]
    if form == "conversational":
        assert first["prompt"][0]["role"] == "system"
        assert "[1] Account help (id: kb-12)" in first["prompt"][0]["content"]
    else:
        assert first["prompt"].startswith("Context documents:\n[1] Account help (id: kb-12)")
    if form == "grouped":
        assert first["rejected"] == ["Try Billing.", "No idea."]
        assert first["margin"] == pytest.approx([1 / 3, 2 / 3])


def reward_trainer(tokenizer, data, out):
    from trl import RewardConfig, RewardTrainer

    return RewardTrainer(
        model=tiny_reward_model(tokenizer, max_positions=256),
        args=RewardConfig(output_dir=str(out), **ARGS),
        train_dataset=data,
        processing_class=tokenizer,
    )


@pytest.mark.parametrize(("form", "fmt"), [("standard", "jsonl"), ("conversational", "parquet")])
def test_reward_trainer_trains_on_the_documents(rag_file, tokenizer, tmp_path, form, fmt):
    data = load(rag_file(form, fmt), fmt)
    trainer = reward_trainer(tokenizer, data, tmp_path)
    assert trainer.train_dataset.num_rows == PAIRS, "no row was too long and dropped"
    assert saw_documents(tokenizer, trainer.train_dataset[0]["chosen_ids"])
    trainer.train()
    assert trainer.state.global_step == 2


@pytest.mark.parametrize(("form", "fmt"), [("standard", "parquet"), ("conversational", "jsonl")])
def test_dpo_trainer_trains_on_the_documents(rag_file, tokenizer, tmp_path, form, fmt):
    from trl import DPOConfig, DPOTrainer

    trainer = DPOTrainer(
        model=tiny_policy(tokenizer, tmp_path / "policy", max_positions=256),
        args=DPOConfig(output_dir=str(tmp_path / "out"), **ARGS),
        train_dataset=load(rag_file(form, fmt), fmt),
        processing_class=tokenizer,
    )
    assert saw_documents(tokenizer, trainer.train_dataset[0]["prompt_ids"])
    trainer.train()
    assert trainer.state.global_step == 2


@pytest.mark.parametrize("expand", ["rows", "map"])
def test_a_grouped_file_expanded_to_pairs_trains_the_reward_trainer(
    rag_file, tokenizer, tmp_path, expand
):
    grouped = load(rag_file("grouped", "parquet"), "parquet")
    if expand == "rows":
        pairs = Dataset.from_list(list(expand_grouped_rows(grouped)))
    else:
        pairs = grouped.map(expand_grouped_batch, batched=True)
    # Each item's best response against every other: the pairs of the standard form whose
    # chosen is the best (here two fewer: the (b, c) pair of each three-response item).
    assert pairs.num_rows == PAIRS - 2
    assert pairs.column_names == list(PREFERENCE_COLUMNS)
    assert isinstance(pairs[0]["rejected"], str) and isinstance(pairs[0]["margin"], float)
    trainer = reward_trainer(tokenizer, pairs, tmp_path)
    assert saw_documents(tokenizer, trainer.train_dataset[0]["rejected_ids"])
    trainer.train()
    assert trainer.state.global_step == 2
