"""A preference export that mixes labelled sprints with production corrections and picks
loads with ``datasets`` and trains TRL's DPOTrainer as it is (provenance columns, null
``item_id`` and ``agreement`` of the production rows included), with no column mapping.
Nothing is downloaded: the tokenizer is trained here on the file's own words and the policy is
a one-layer GPT-2 built from a config, so the test takes seconds."""

import copy

import pytest
from datasets import load_dataset

from exports.services.build import build_dataset, start_export
from exports.services.files import final_path
from exports.services.production_rows import PRODUCTION_PREFERENCE_COLUMNS
from tests.exports.export_fixtures import jsonl, labelled_item
from tests.exports.production_fixtures import production_events

pytestmark = pytest.mark.django_db

SPECIAL = {"pad_token": "[PAD]", "unk_token": "[UNK]", "eos_token": "[EOS]", "bos_token": "[BOS]"}


def word_tokenizer(texts: list[str]):
    """A word-level tokenizer trained on ``texts``, wrapped as a transformers tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token=SPECIAL["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=list(SPECIAL.values()))
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL)


@pytest.fixture
def mixed_export(lead, sprint):
    production_events(lead)
    for n in range(6):
        labelled_item(sprint, n, texts={"a": f"Paris is the capital ({n}).", "b": "Paris no"})
    dataset = start_export(
        lead, {"sprints": [sprint.pk], "sources": ["sprints", "production"]}, enqueue_build=False
    )
    return build_dataset(dataset.pk)


def test_dpo_trainer_trains_on_a_mixed_export(mixed_export, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import DPOConfig, DPOTrainer

    rows = jsonl(mixed_export)
    assert {row["origin"] for row in rows} == {"sprints", "production"}
    data = load_dataset("json", data_files=str(final_path(mixed_export)), split="train")
    assert data.column_names == list(PRODUCTION_PREFERENCE_COLUMNS)
    assert data.num_rows == 8 and data[-1]["item_id"] is None

    tokenizer = word_tokenizer([row[c] for row in rows for c in ("prompt", "chosen", "rejected")])
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_layer=1, n_head=2, n_embd=32, n_positions=256,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))  # fmt: skip
    args = DPOConfig(
        output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=2, report_to=[],
        use_cpu=True, bf16=False, save_strategy="no",
    )  # fmt: skip
    # TRL 1.x makes the frozen reference model by loading the policy's name again, and a model
    # built from a config has none: the reference is handed over as a copy.
    trainer = DPOTrainer(
        model=model, ref_model=copy.deepcopy(model), args=args, train_dataset=data,
        processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    assert trainer.state.global_step == 1
