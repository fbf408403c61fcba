"""The reward-model trainer end to end on CPU with the packaged MiniLM and tiny data."""

import json
import math
from pathlib import Path

import pytest
import torch

from tests.training.trainer_fixtures import (
    HELD_OUT_FACTS,
    TRAIN_FACTS,
    conversational,
    factual_pairs,
)
from training.services.trainer import (
    BaseModelNotFound,
    ProgressEvent,
    RewardScorer,
    TrainConfig,
    TrainingCancelled,
    bradley_terry_loss,
    pairwise_accuracy,
    train_reward_model,
)

# Neither the database nor the broker: the embedded CI pass has nothing to add here (.ci/run).
pytestmark = pytest.mark.nodb

EASY = TrainConfig(max_length=64, epochs=2, batch_size=8, learning_rate=1e-4, seed=0)
SMALL = TrainConfig(max_length=64, epochs=1, batch_size=4, learning_rate=1e-4, seed=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One training run on 20 facts, evaluated on 20 other facts, with its progress events."""
    events: list[ProgressEvent] = []
    output_dir = tmp_path_factory.mktemp("reward-model")
    test_rows = factual_pairs(HELD_OUT_FACTS, seed=1)
    result = train_reward_model(
        EASY, factual_pairs(TRAIN_FACTS), test_rows, output_dir, on_progress=events.append
    )
    return result, events, test_rows


def test_training_learns_an_easy_preference_on_held_out_questions(trained):
    result, _, test_rows = trained
    metrics = result.metrics
    assert len(test_rows) == 40
    assert [e["epoch"] for e in metrics["eval"]] == [1, 2]
    assert metrics["final_accuracy"] >= 0.8
    best = metrics["eval"][metrics["best_epoch"] - 1]  # early stopping kept the best epoch
    assert metrics["final_accuracy"] == best["accuracy"]
    assert best["accuracy"] == max(e["accuracy"] for e in metrics["eval"])
    assert metrics["eval"][-1]["loss"] < math.log(2)  # below the loss of a model that knows nothing
    assert metrics["device"] == "cpu"
    assert metrics["pairs_per_second"] > 0 and metrics["train_seconds"] > 0
    assert {"torch", "transformers", "tokenizers", "python"} <= set(metrics["library_versions"])


def test_progress_reports_every_step_and_each_epochs_evaluation(trained):
    result, events, _ = trained
    total = result.metrics["total_steps"]
    assert total == 2 * math.ceil(40 / 8)
    steps = [e for e in events if e.eval is None]
    assert [e.step for e in steps] == list(range(1, total + 1))
    assert all(e.total_steps == total and e.loss is not None for e in steps)
    assert [e.epoch for e in steps] == [1] * (total // 2) + [2] * (total // 2)
    assert [e.eval for e in events if e.eval is not None] == result.metrics["eval"]
    assert [p["loss"] for p in result.metrics["train_loss"]] == [e.loss for e in steps]


def test_artifacts_are_written_and_load_back_scoring_as_the_trained_model(trained):
    result, _, test_rows = trained
    output_dir = result.output_dir
    for name in ("model.safetensors", "config.json", "metrics.json", "training_config.json"):
        assert (output_dir / name).is_file(), name
    assert (output_dir / "tokenizer.json").is_file()
    assert json.loads((output_dir / "metrics.json").read_text()) == result.metrics
    assert json.loads((output_dir / "training_config.json").read_text()) == EASY.to_dict()

    scorer = RewardScorer.load(output_dir, device="cpu")
    chosen, rejected = [], []
    for row in test_rows:
        good, bad = scorer.score(row["prompt"], [row["chosen"], row["rejected"]])
        chosen.append(good)
        rejected.append(bad)
    assert pairwise_accuracy(chosen, rejected) == result.metrics["final_accuracy"]
    reloaded_loss = float(bradley_terry_loss(torch.tensor(chosen), torch.tensor(rejected)))
    kept = result.metrics["eval"][result.metrics["best_epoch"] - 1]
    assert reloaded_loss == pytest.approx(kept["loss"], abs=1e-4)


def test_scorer_keeps_the_order_of_responses_and_answers_nothing_for_none(trained):
    scorer = RewardScorer.load(trained[0].output_dir, device="cpu")
    prompt, answer = HELD_OUT_FACTS[0]
    forward = scorer.score(prompt, [answer, "answer the " + answer.lower()])
    backward = scorer.score(prompt, ["answer the " + answer.lower(), answer])
    assert forward == pytest.approx(backward[::-1], abs=1e-5)
    assert scorer.score(prompt, []) == []


def test_the_same_seed_gives_the_same_metrics_and_another_seed_does_not(tmp_path):
    rows, test_rows = factual_pairs(TRAIN_FACTS[:6]), factual_pairs(HELD_OUT_FACTS[:4])

    def run(seed: int, name: str) -> dict:
        config = TrainConfig(**{**SMALL.to_dict(), "seed": seed})
        return train_reward_model(config, rows, test_rows, tmp_path / name).metrics

    first, again, other = run(3, "first"), run(3, "again"), run(4, "other")
    assert first["train_loss"] == again["train_loss"]
    assert first["eval"] == again["eval"]
    assert first["train_loss"] != other["train_loss"]


def test_should_stop_cancels_training_and_writes_nothing(tmp_path):
    asked: list[int] = []
    progress: list[ProgressEvent] = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) >= 3

    with pytest.raises(TrainingCancelled):
        train_reward_model(
            SMALL,
            factual_pairs(TRAIN_FACTS[:8]),
            factual_pairs(HELD_OUT_FACTS[:2]),
            tmp_path / "out",
            on_progress=progress.append,
            should_stop=should_stop,
        )
    assert [e.step for e in progress] == [1, 2]  # asked before each step: stopped before step 3
    assert not (tmp_path / "out").exists()


def test_a_missing_base_model_fails_before_any_work_with_a_clear_message(tmp_path):
    progress: list[ProgressEvent] = []
    missing = str(tmp_path / "no-such-model")
    config = TrainConfig(**{**SMALL.to_dict(), "base_model": missing})
    with pytest.raises(BaseModelNotFound) as caught:
        train_reward_model(
            config,
            factual_pairs(TRAIN_FACTS[:2]),
            [],
            tmp_path / "out",
            on_progress=progress.append,
        )
    assert str(caught.value) == f"Base model {missing!r} does not exist: no such directory."
    assert progress == [] and not (tmp_path / "out").exists()


def test_a_hub_name_that_is_not_cached_is_not_downloaded(tmp_path):
    config = TrainConfig(**{**SMALL.to_dict(), "base_model": "concord-tests/not-a-real-model"})
    with pytest.raises(BaseModelNotFound) as caught:
        train_reward_model(config, factual_pairs(TRAIN_FACTS[:2]), [], tmp_path / "out")
    assert str(caught.value) == (
        "Base model 'concord-tests/not-a-real-model' is neither a local directory nor a model in "
        "the local Hugging Face cache (nothing is downloaded)."
    )


def test_a_directory_without_a_model_is_refused_with_the_reason(tmp_path):
    (tmp_path / "empty").mkdir()
    config = TrainConfig(**{**SMALL.to_dict(), "base_model": str(tmp_path / "empty")})
    with pytest.raises(BaseModelNotFound, match="cannot be loaded as a reward model"):
        train_reward_model(config, factual_pairs(TRAIN_FACTS[:2]), [], tmp_path / "out")


def test_conversational_rows_train_and_score(tmp_path):
    rows = conversational(factual_pairs(TRAIN_FACTS))
    test_rows = conversational(factual_pairs(HELD_OUT_FACTS, seed=1))
    config = TrainConfig(**{**EASY.to_dict(), "epochs": 1, "learning_rate": 2e-4})
    result = train_reward_model(config, rows, test_rows, tmp_path / "chat")
    assert result.metrics["final_accuracy"] >= 0.8
    scorer = RewardScorer.load(result.output_dir, device="cpu")
    row = test_rows[0]
    good, bad = scorer.score(row["prompt"], [row["chosen"], row["rejected"]])
    assert good > bad


def test_the_margin_raises_the_loss_only_when_used(tmp_path):
    rows = factual_pairs(TRAIN_FACTS[:4], margin=2.0)
    one_step = {**SMALL.to_dict(), "batch_size": 8}

    def first_loss(use_margin: bool) -> float:
        config = TrainConfig(**{**one_step, "use_margin": use_margin})
        metrics = train_reward_model(config, rows, rows[:2], tmp_path / str(use_margin)).metrics
        return metrics["train_loss"][0]["loss"]

    with_margin, without = first_loss(True), first_loss(False)
    # At the start both rewards are nearly equal: loss ~ log(1 + e^margin) against ~ log 2.
    assert without == pytest.approx(math.log(2), abs=0.05)
    assert with_margin == pytest.approx(math.log(1 + math.exp(2.0)), abs=0.1)


def test_gradient_accumulation_counts_optimizer_steps(tmp_path):
    config = TrainConfig(**{**SMALL.to_dict(), "batch_size": 2, "gradient_accumulation": 3})
    rows = factual_pairs(TRAIN_FACTS[:7])  # 14 pairs: 7 micro-batches, 3 optimizer steps
    metrics = train_reward_model(config, rows, rows[:2], tmp_path / "acc").metrics
    assert metrics["total_steps"] == 3
    assert [p["step"] for p in metrics["train_loss"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch_size", 0),
        ("epochs", 0),
        ("learning_rate", 0.0),
        ("warmup_ratio", 1.5),
        ("device", "cuda" if not torch.cuda.is_available() else "no-such-device"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(tmp_path, field, value):
    config = TrainConfig(**{**SMALL.to_dict(), field: value})
    with pytest.raises(ValueError, match=field):
        train_reward_model(config, factual_pairs(TRAIN_FACTS[:2]), [], tmp_path / "out")


def test_no_training_rows_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no training pairs"):
        train_reward_model(SMALL, [], [], Path(tmp_path / "out"))
