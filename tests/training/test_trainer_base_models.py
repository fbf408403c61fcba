"""Base models other than the packaged MiniLM: a tiny decoder (GPT-2 shaped, random weights)
whose word-level tokenizer has no pad token, saved to a local directory like any checkpoint."""

import math
import re

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

from tests.training.trainer_fixtures import FACTS, HELD_OUT_FACTS, TRAIN_FACTS, factual_pairs
from training.services.reward_model import encode_responses, load_reward_model
from training.services.trainer import RewardScorer, TrainConfig, train_reward_model

CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} <eos> {% endfor %}"


def save_tiny_decoder(directory, *, eos: bool, chat_template: str | None = None) -> str:
    words = {w for q, a in FACTS for w in re.findall(r"\w+|[^\w\s]", f"{q} {a} user assistant")}
    vocab = {"<eos>": 0, **{word: i + 1 for i, word in enumerate(sorted(words))}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<eos>" if eos else None))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, **({"eos_token": "<eos>"} if eos else {})
    )
    if chat_template:
        tokenizer.chat_template = chat_template
    config = GPT2Config(
        vocab_size=len(vocab), n_embd=32, n_layer=2, n_head=2, n_positions=128,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    GPT2Model(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.mark.parametrize("eos", [True, False], ids=["pad-from-eos", "pad-added"])
def test_a_decoder_without_a_pad_token_trains_and_scores(tmp_path, eos):
    base = save_tiny_decoder(tmp_path / "base", eos=eos)
    model, tokenizer = load_reward_model(base)
    assert tokenizer.pad_token == ("<eos>" if eos else "[PAD]")
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert model.get_input_embeddings().num_embeddings >= len(tokenizer)

    config = TrainConfig(base_model=base, max_length=64, batch_size=8, learning_rate=1e-3)
    result = train_reward_model(
        config, factual_pairs(TRAIN_FACTS), factual_pairs(HELD_OUT_FACTS[:5]), tmp_path / "rm"
    )
    assert result.metrics["final_accuracy"] is not None
    scorer = RewardScorer.load(result.output_dir, device="cpu")
    assert scorer.tokenizer.pad_token_id == model.config.pad_token_id
    question, answer = HELD_OUT_FACTS[0]
    scores = scorer.score(question, [answer, " ".join(reversed(answer.split()))])
    assert len(scores) == 2 and all(math.isfinite(score) for score in scores)


def test_a_decoder_response_ends_with_the_eos_token(tmp_path):
    _, tokenizer = load_reward_model(save_tiny_decoder(tmp_path, eos=True))
    [encoding] = encode_responses(tokenizer, ["What is two plus two?"], ["Two plus two."], 64)
    assert encoding[-1].item() == tokenizer.eos_token_id
    assert tokenizer.decode(encoding).startswith("What is two plus two ?")


def test_conversational_rows_use_the_chat_template_when_there_is_one(tmp_path):
    base = save_tiny_decoder(tmp_path, eos=True, chat_template=CHAT_TEMPLATE)
    _, tokenizer = load_reward_model(base)
    prompt = [{"role": "user", "content": "What is two plus two?"}]
    response = [{"role": "assistant", "content": "Two plus two equals four."}]
    [encoding] = encode_responses(tokenizer, [prompt], [response], 64)
    expected = tokenizer(
        "user : What is two plus two? <eos> assistant : Two plus two equals four. <eos> ",
        add_special_tokens=False,
    )["input_ids"]
    assert encoding.tolist() == expected


def test_conversational_rows_without_a_template_are_role_lines(tmp_path):
    _, tokenizer = load_reward_model(save_tiny_decoder(tmp_path, eos=True))
    prompt = [{"role": "user", "content": "What is two plus two?"}]
    [chat] = encode_responses(tokenizer, [prompt], ["Two plus two equals four."], 64)
    [text] = encode_responses(
        tokenizer, ["user: What is two plus two?"], ["assistant: Two plus two equals four."], 64
    )
    assert chat.tolist() == text.tolist()
