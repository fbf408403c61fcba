"""The trainer's fast path, tested on its parts: tokenise once, bucket by length, pad to the
batch, and run chosen and rejected through the model in one forward pass."""

import random

import pytest
import torch

from tests.training.trainer_fixtures import HELD_OUT_FACTS, TRAIN_FACTS, factual_pairs
from training.services.batching import collate_pairs, encode_pairs, length_bucketed_batches
from training.services.reward_model import encode_responses, load_reward_model
from training.services.trainer import (
    DEFAULT_BASE_MODEL,
    TrainConfig,
    bradley_terry_loss,
    pairwise_accuracy,
    train_reward_model,
)

# Neither the database nor the broker: the embedded CI pass has nothing to add here (.ci/run).
pytestmark = pytest.mark.nodb


@pytest.fixture(scope="module")
def tokenizer():
    return load_reward_model(DEFAULT_BASE_MODEL)[1]


def padded_tokens(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)


def test_a_batch_stacks_chosen_then_rejected_padded_to_its_own_longest(tokenizer):
    rows = [
        {"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."},
        {"prompt": "What is two plus two?", "chosen": "Four.", "rejected": "It is four, " * 5},
        {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "Blue is."},
    ]
    pairs = encode_pairs(tokenizer, rows, max_length=256)
    batch = collate_pairs(pairs, [0, 1], tokenizer.pad_token_id)
    ids, mask = batch.inputs["input_ids"], batch.inputs["attention_mask"]
    lengths = [len(pairs.chosen[i]) for i in (0, 1)] + [len(pairs.rejected[i]) for i in (0, 1)]
    assert batch.num_pairs == 2 and ids.shape == (4, max(lengths)) and max(lengths) < 64
    assert mask.sum(dim=1).tolist() == lengths
    assert ids[0, : lengths[0]].tolist() == pairs.chosen[0].tolist()
    assert ids[3, : lengths[3]].tolist() == pairs.rejected[1].tolist()
    assert (ids[mask == 0] == tokenizer.pad_token_id).all()

    rounded = collate_pairs(pairs, [0, 2], tokenizer.pad_token_id, pad_to_multiple_of=8)
    assert rounded.inputs["input_ids"].shape[1] % 8 == 0


def test_prompt_and_response_are_one_sequence_cut_from_the_left(tokenizer):
    [encoding] = encode_responses(tokenizer, ["Is the sky blue?"], ["Yes, it is."], 64)
    assert encoding.tolist() == tokenizer("Is the sky blue?\nYes, it is.")["input_ids"]
    # TRL's form for an HH prompt, which ends with white space: nothing is added between.
    [hh] = encode_responses(tokenizer, ["Human: Hi\n\nAssistant: "], ["Hello."], 64)
    assert hh.tolist() == tokenizer("Human: Hi\n\nAssistant: Hello.")["input_ids"]

    long_prompt = "start " + "filler words here " * 40 + "final question?"
    [cut] = encode_responses(tokenizer, [long_prompt], ["The answer is yes."], 32)
    text = tokenizer.decode(cut)
    assert len(cut) == 32 and cut[0] == tokenizer.cls_token_id
    assert "final question?" in text and "the answer is yes." in text and "start" not in text


def test_margins_default_to_zero(tokenizer):
    rows = [
        {"prompt": "a", "chosen": "b", "rejected": "c", "margin": 1.5},
        {"prompt": "a", "chosen": "b", "rejected": "c", "margin": None},
        {"prompt": "a", "chosen": "b", "rejected": "c"},
    ]
    assert encode_pairs(tokenizer, rows, 16).margins.tolist() == [1.5, 0.0, 0.0]


def test_buckets_hold_every_pair_once_with_little_padding_and_follow_the_seed():
    rng = random.Random(7)
    lengths = [rng.randint(8, 256) for _ in range(1000)]
    batches = length_bucketed_batches(lengths, 16, torch.Generator().manual_seed(0))
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    assert all(1 <= len(batch) <= 16 for batch in batches)

    shuffled = list(range(1000))
    rng.shuffle(shuffled)
    unsorted = [shuffled[i : i + 16] for i in range(0, 1000, 16)]
    assert padded_tokens(batches, lengths) < 0.7 * padded_tokens(unsorted, lengths)
    assert padded_tokens(batches, lengths) < 1.1 * sum(lengths)

    again = length_bucketed_batches(lengths, 16, torch.Generator().manual_seed(0))
    other = length_bucketed_batches(lengths, 16, torch.Generator().manual_seed(1))
    assert again == batches and other != batches


def test_one_forward_pass_per_micro_batch_holds_chosen_and_rejected(tmp_path):
    """Count the reward model's forward calls while it trains: one per micro-batch, each with
    both sides of every pair (evaluation runs under inference mode and is counted apart)."""
    train_calls: list[int] = []
    eval_calls: list[int] = []

    def count(module, args, kwargs, output):
        name = type(module).__name__  # the reward model: the model's own head, or mean pooling
        if name.endswith("ForSequenceClassification") or name == "MeanPooledReward":
            rows = kwargs["input_ids"].shape[0]
            (eval_calls if torch.is_inference_mode_enabled() else train_calls).append(rows)

    handle = torch.nn.modules.module.register_module_forward_hook(count, with_kwargs=True)
    try:
        config = TrainConfig(max_length=64, epochs=1, batch_size=4, learning_rate=1e-4)
        rows = factual_pairs(TRAIN_FACTS[:5])  # 10 pairs: micro-batches of 4, 4 and 2
        train_reward_model(config, rows, factual_pairs(HELD_OUT_FACTS[:2]), tmp_path / "m")
    finally:
        handle.remove()
    assert sorted(train_calls) == [4, 8, 8]
    assert sum(eval_calls) == 2 * 4


def test_the_loss_is_bradley_terry_with_the_margin_subtracted():
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    plain = bradley_terry_loss(chosen, rejected)
    with_margin = bradley_terry_loss(chosen, rejected, torch.tensor([1.0, 0.5]))
    expected = -torch.nn.functional.logsigmoid(torch.tensor([1.0, -1.0])).mean()
    assert float(plain) == pytest.approx(float(expected))
    expected = -torch.nn.functional.logsigmoid(torch.tensor([0.0, -1.5])).mean()
    assert float(with_margin) == pytest.approx(float(expected))


def test_pairwise_accuracy_counts_a_tie_as_wrong():
    assert pairwise_accuracy([1.0, 2.0, 3.0, 0.5], [0.0, 2.0, 4.0, 0.1]) == 0.5
    with pytest.raises(ValueError):
        pairwise_accuracy([], [])
