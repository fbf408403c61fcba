"""A tiny causal LM (Llama architecture, two layers of width 32, random weights) with a
word-level tokenizer, saved like any checkpoint, and an easy grounded preference task for it.

No policy model can be downloaded here, so the policy tests build this one: DPO steps,
generation, evaluation sprints, the gate and rollback all run the real path through it on the
CPU in seconds. The task: a prompt lists two numbered documents and asks about one of them; the
*chosen* answer cites the right document, the *rejected* one the other. A policy that learns to
read its context learns to prefer the chosen answer, which the tests measure as the held-out
log-probability margin of chosen over rejected.
"""

import random
import re
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL = ["<pad>", "<unk>", "<s>", "</s>"]
TOPICS = ["refunds", "passwords", "shipping", "invoices", "accounts", "billing", "returns",
          "coupons"]  # fmt: skip
# Words of the Concord renderings (numbered documents, a system line, chat roles) so prompts
# rendered by the export tokenise without unknown words.
EXTRA_WORDS = (
    "Context id kb title text documents document use the following answer question user assistant "
    "system see about how what is are you can help with my a an of to in for and or on"
)
# A small chat template (Jinja) for the conversational form.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }} : {{ message['content'] }} "
    "{% endfor %}{% if add_generation_prompt %}assistant : {% endif %}"
)


def grounded_pair(index: int, rng: random.Random) -> dict:
    """One grounded preference: two documents, a question about one, the right citation
    chosen and the wrong one rejected. Import-ready (Concord's item format)."""
    right, wrong = rng.sample(range(len(TOPICS)), 2)
    first_is_right = rng.random() < 0.5
    docs = [right, wrong] if first_is_right else [wrong, right]
    context = [
        {"id": f"kb-{topic}", "title": TOPICS[topic], "text": f"about {TOPICS[topic]}"}
        for topic in docs
    ]
    cite_right, cite_wrong = (1, 2) if first_is_right else (2, 1)
    return {
        "external_id": f"g-{index}",
        "prompt": f"what about {TOPICS[right]} ?",
        "context": context,
        "responses": [
            {"id": "a", "text": f"see [{cite_right}] kb-{TOPICS[right]} .", "model": "good"},
            {"id": "b", "text": f"see [{cite_wrong}] kb-{TOPICS[wrong]} .", "model": "bad"},
        ],
    }


def grounded_items(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [grounded_pair(index, rng) for index in range(count)]


def vocabulary() -> list[str]:
    words = set(EXTRA_WORDS.split())
    for topic in TOPICS:
        words.update({topic, f"kb-{topic}", "kb", "-"})
    words.update(re.findall(r"\w+|[^\w\s]", "[1] [2] [3] ( ) : . , ? ! # \n"))
    words.update(str(n) for n in range(10))
    return [*SPECIAL, *sorted(words)]


def save_tiny_causal_lm(directory: str | Path, *, chat_template: bool = False) -> str:
    """Save the tiny Llama and its tokenizer into ``directory`` (the same weights every time);
    its path. ``chat_template`` gives the tokenizer :data:`CHAT_TEMPLATE`."""
    vocab = {token: i for i, token in enumerate(vocabulary())}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
        pad_token_id=vocab["<pad>"], bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"],
        tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)
