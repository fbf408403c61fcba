"""The real clients: ``datasets`` loads the preference files, and TRL's RewardTrainer and
DPOTrainer train on them as they are (the ``split`` column included), with no column mapping,
in the standard and the conversational form. Nothing is downloaded: the tokenizer is the
packaged MiniLM's, the reward model a tiny BERT and the DPO policy a tiny GPT-2, both built
from a config so that each test takes seconds."""

import pytest

from tests.exports.export_fixtures import export, labelled_item
from tests.exports.trl_fixtures import (
    TRAINER_ARGS,
    load,
    minilm_tokenizer,
    tiny_policy,
    tiny_reward_model,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokenizer():
    return minilm_tokenizer()


@pytest.fixture
def preference_file(lead, sprint):
    """Export eight labelled items (half with chat prompts) in a form and format."""
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    for n in range(8):
        prompt = [*chat, {"role": "user", "content": f"Capital of France ({n})?"}]
        labelled_item(sprint, n, prompt=prompt if n % 2 else f"Capital of France ({n})?",
                      texts={"a": f"The capital is Paris ({n}).", "b": "Paris no is"})  # fmt: skip

    def make(form: str, fmt: str):
        from exports.services.files import final_path

        return final_path(export(lead, sprint, fmt=fmt, test_fraction=0.25, form=form))

    return make


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("form", ["standard", "conversational"])
def test_datasets_loads_the_export(preference_file, fmt, form):
    data = load(preference_file(form, fmt), fmt)
    assert data.column_names == [
        "prompt", "chosen", "rejected", "margin", "agreement", "item_id", "split",
    ]  # fmt: skip
    assert data.num_rows == 8 and set(data["split"]) <= {"train", "test"}
    if form == "conversational":
        assert data[1]["chosen"] == [{"role": "assistant", "content": "The capital is Paris (1)."}]
        assert data[1]["prompt"][-1]["role"] == "user"


@pytest.mark.parametrize(
    ("form", "fmt"), [("standard", "jsonl"), ("standard", "parquet"), ("conversational", "jsonl")]
)
def test_reward_trainer_accepts_the_export(preference_file, tokenizer, tmp_path, form, fmt):
    from trl import RewardConfig, RewardTrainer

    model = tiny_reward_model(tokenizer)
    trainer = RewardTrainer(
        model=model, args=RewardConfig(output_dir=str(tmp_path), **TRAINER_ARGS),
        train_dataset=load(preference_file(form, fmt), fmt), processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    assert trainer.state.global_step == 2


@pytest.mark.parametrize(
    ("form", "fmt"), [("standard", "jsonl"), ("standard", "parquet"), ("conversational", "parquet")]
)
def test_dpo_trainer_accepts_the_export(preference_file, tokenizer, tmp_path, form, fmt):
    from trl import DPOConfig, DPOTrainer

    policy = tiny_policy(tokenizer, tmp_path / "policy")
    trainer = DPOTrainer(
        model=policy, args=DPOConfig(output_dir=str(tmp_path / "out"), **TRAINER_ARGS),
        train_dataset=load(preference_file(form, fmt), fmt), processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    assert trainer.state.global_step == 2
