"""Mean pooling: a masked mean of the last hidden states and a linear head, trained, saved and
loaded back through ``RewardScorer.load`` to the same scores."""

import json

import pytest
import torch

from tests.training.tiny_bert import save_tiny_bert
from tests.training.trainer_fixtures import HELD_OUT_FACTS, TRAIN_FACTS, factual_pairs
from training.services.pooling import HEAD_FILE, MeanPooledReward, saved_pooling
from training.services.reward_model import load_reward_model, pad_encodings, score_encodings
from training.services.trainer import (
    RewardScorer,
    TrainConfig,
    bradley_terry_loss,
    pairwise_accuracy,
    train_reward_model,
)

pytestmark = pytest.mark.nodb

TEST = factual_pairs(HELD_OUT_FACTS, seed=1)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def mean_run(tiny_bert, tmp_path_factory):
    config = TrainConfig(
        base_model=tiny_bert, max_length=64, epochs=2, batch_size=8, learning_rate=3e-3,
        seed=0, pooling="mean", device="cpu",
    )  # fmt: skip
    output_dir = tmp_path_factory.mktemp("mean")
    return train_reward_model(config, factual_pairs(TRAIN_FACTS), TEST, output_dir)


def test_a_mean_pooled_model_saves_its_head_and_records_its_pooling(mean_run):
    output_dir = mean_run.output_dir
    assert (output_dir / HEAD_FILE).is_file() and (output_dir / "model.safetensors").is_file()
    assert json.loads((output_dir / "training_config.json").read_text())["pooling"] == "mean"
    assert saved_pooling(output_dir) == "mean"


def test_the_scorer_loads_a_mean_pooled_model_and_scores_as_it_was_evaluated(mean_run):
    scorer = RewardScorer.load(mean_run.output_dir, device="cpu")
    assert isinstance(scorer.model, MeanPooledReward)
    scores = [scorer.score(row["prompt"], [row["chosen"], row["rejected"]]) for row in TEST]
    chosen, rejected = [good for good, _ in scores], [bad for _, bad in scores]
    metrics = mean_run.metrics
    kept = metrics["eval"][metrics["best_epoch"] - 1]
    assert pairwise_accuracy(chosen, rejected) == metrics["final_accuracy"] == kept["accuracy"]
    loss = float(bradley_terry_loss(torch.tensor(chosen), torch.tensor(rejected)))
    assert loss == pytest.approx(kept["loss"], abs=1e-5)


def test_loading_twice_gives_the_same_weights_and_scores(mean_run):
    first, tokenizer = load_reward_model(str(mean_run.output_dir))
    second, _ = load_reward_model(str(mean_run.output_dir))
    encodings = [tokenizer(text, return_tensors="pt")["input_ids"][0] for text, _ in HELD_OUT_FACTS]
    pad = tokenizer.pad_token_id
    cpu = torch.device("cpu")
    assert score_encodings(first, encodings, pad, device=cpu) == score_encodings(
        second, encodings, pad, device=cpu
    )


def test_the_mean_ignores_padding(tiny_bert):
    model, tokenizer = load_reward_model(tiny_bert, pooling="mean")
    model.eval()
    short = tokenizer("What is two plus two?", return_tensors="pt")["input_ids"][0]
    long = tokenizer("What is the capital of France? Paris.", return_tensors="pt")["input_ids"][0]
    with torch.inference_mode():
        alone = model(**pad_encodings([short], tokenizer.pad_token_id)).logits
        padded = model(**pad_encodings([short, long], tokenizer.pad_token_id)).logits
    assert padded[0].item() == pytest.approx(alone[0].item(), abs=1e-6)


def test_the_models_own_head_is_still_the_plain_architecture(tiny_bert, tmp_path):
    model, _ = load_reward_model(tiny_bert, pooling="model")
    assert not isinstance(model, MeanPooledReward)
    assert saved_pooling(tmp_path) == "model"  # no training_config.json: the model's own head


def test_an_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="pooling"):
        TrainConfig(pooling="max").validate()


def test_a_head_of_another_width_is_not_loaded_onto_the_encoder(tiny_bert, tmp_path):
    import shutil

    from safetensors.torch import save_file

    directory = tmp_path / "base"
    shutil.copytree(tiny_bert, directory)
    save_file({"weight": torch.zeros(1, 384), "bias": torch.zeros(1)}, str(directory / HEAD_FILE))
    model, _ = load_reward_model(str(directory), pooling="mean")
    assert model.head.weight.shape == (1, 32) and model.head.weight.abs().sum() > 0


def test_a_max_length_beyond_the_models_positions_is_fitted_to_them(tiny_bert, tmp_path):
    """512 tokens asked of an encoder with 128 positions: it trains on sequences cut to 128,
    records 128, and the scorer reads a long input back without an indexing error."""
    long_rows = [
        {**row, "prompt": " ".join([row["prompt"]] * 40)}  # far beyond 128 tokens
        for row in factual_pairs(TRAIN_FACTS)[:8]
    ]
    config = TrainConfig(base_model=tiny_bert, max_length=512, epochs=1, batch_size=4,
                         seed=0, device="cpu")  # fmt: skip
    result = train_reward_model(config, long_rows, long_rows[:4], tmp_path)
    assert json.loads((tmp_path / "training_config.json").read_text())["max_length"] == 128
    scorer = RewardScorer.load(result.output_dir, device="cpu")
    assert scorer.max_length == 128
    scores = scorer.score(long_rows[0]["prompt"], [long_rows[0]["chosen"], "no"])
    assert len(scores) == 2 and all(score is not None for score in scores)


@pytest.mark.parametrize(
    "model_type, positions, pad, stated, asked, fitted",
    [
        ("bert", 256, 0, 512, 512, 256),  # the tokenizer claims more than the model has
        ("bert", 512, 0, 128, 256, 128),  # the tokenizer's own limit
        ("bert", 512, 0, int(1e30), 256, 256),  # no stated limit, enough positions
        ("roberta", 514, 1, int(1e30), 1024, 512),  # positions start after the padding index
        ("xlm-roberta", 514, 1, 512, 256, 256),  # asked is within every limit
    ],
)
def test_the_fitted_length_is_the_least_of_asked_stated_and_usable_positions(
    model_type, positions, pad, stated, asked, fitted
):
    from types import SimpleNamespace

    from training.services.reward_model import fitted_max_length

    model = SimpleNamespace(config=SimpleNamespace(
        model_type=model_type, max_position_embeddings=positions, pad_token_id=pad
    ))  # fmt: skip
    tokenizer = SimpleNamespace(model_max_length=stated)
    assert fitted_max_length(model, tokenizer, asked) == fitted
