"""Base models other than the packaged MiniLM: a tiny decoder (GPT-2 shaped, random weights)
whose word-level tokenizer has no pad token, saved to a local directory like any checkpoint."""

import math

import pytest

from tests.training.trainer_fixtures import (
    HELD_OUT_FACTS,
    TRAIN_FACTS,
    factual_pairs,
    save_tiny_decoder,
)
from training.services.reward_model import encode_responses, load_reward_model
from training.services.trainer import RewardScorer, TrainConfig, train_reward_model

# Neither the database nor the broker: the embedded CI pass has nothing to add here (.ci/run).
pytestmark = pytest.mark.nodb

CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} <eos> {% endfor %}"


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
