"""Early stopping: the saved model is the best epoch's, training halts after ``patience`` epochs
without a better held-out accuracy, and cancelling still works. A tiny BERT trained with a
learning rate high enough that its held-out accuracy falls after the second epoch."""

import json

import pytest
import torch

from tests.training.tiny_bert import save_tiny_bert
from tests.training.trainer_fixtures import HELD_OUT_FACTS, TRAIN_FACTS, factual_pairs
from training.services.distributed import train_in_processes
from training.services.early_stopping import BestEpoch
from training.services.trainer import (
    ProgressEvent,
    RewardScorer,
    TrainConfig,
    TrainingCancelled,
    bradley_terry_loss,
    pairwise_accuracy,
    train_reward_model,
)

pytestmark = pytest.mark.nodb

TRAIN, TEST = factual_pairs(TRAIN_FACTS), factual_pairs(HELD_OUT_FACTS, seed=1)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def overshooting(base_model: str, **changes) -> TrainConfig:
    """Five epochs at a learning rate that overshoots: epoch 2 is this seed's best."""
    settings = dict(
        base_model=base_model, max_length=64, epochs=5, batch_size=8, learning_rate=3e-2,
        seed=1, patience=5, device="cpu",
    )  # fmt: skip
    return TrainConfig(**{**settings, **changes})


def held_out_scores(output_dir) -> tuple[list[float], list[float]]:
    scorer = RewardScorer.load(output_dir, device="cpu")
    pairs = [scorer.score(row["prompt"], [row["chosen"], row["rejected"]]) for row in TEST]
    return [good for good, _ in pairs], [bad for _, bad in pairs]


@pytest.fixture(scope="module")
def full_run(tiny_bert, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("full")
    return train_reward_model(overshooting(tiny_bert), TRAIN, TEST, output_dir)


def test_the_saved_model_is_the_best_epochs_when_a_later_epoch_is_worse(full_run):
    metrics = full_run.metrics
    accuracies = [e["accuracy"] for e in metrics["eval"]]
    assert len(accuracies) == 5 and metrics["epochs_run"] == 5 and not metrics["stopped_early"]
    best = metrics["best_epoch"]
    assert accuracies[best - 1] == max(accuracies)
    assert best == accuracies.index(max(accuracies)) + 1  # a tie keeps the earliest
    assert accuracies[-1] < max(accuracies), "the premise: training past the best epoch hurts"
    assert metrics["final_accuracy"] == max(accuracies)

    chosen, rejected = held_out_scores(full_run.output_dir)
    assert pairwise_accuracy(chosen, rejected) == metrics["final_accuracy"]
    loss = float(bradley_terry_loss(torch.tensor(chosen), torch.tensor(rejected)))
    assert loss == pytest.approx(metrics["eval"][best - 1]["loss"], abs=1e-5)
    saved = json.loads((full_run.output_dir / "metrics.json").read_text())
    assert saved["best_epoch"] == best and saved["final_accuracy"] == metrics["final_accuracy"]


def test_training_stops_after_patience_epochs_without_a_better_accuracy(
    full_run, tiny_bert, tmp_path
):
    events: list[ProgressEvent] = []
    config = overshooting(tiny_bert, patience=1)
    result = train_reward_model(config, TRAIN, TEST, tmp_path / "out", on_progress=events.append)
    metrics, full = result.metrics, full_run.metrics
    best = full["best_epoch"]
    # The same seed trains the same epochs until it stops, one epoch after the best.
    assert metrics["epochs_run"] == best + 1 and metrics["stopped_early"]
    assert metrics["eval"] == full["eval"][: best + 1]
    assert metrics["best_epoch"] == best and metrics["final_accuracy"] == full["final_accuracy"]
    steps_per_epoch = full["total_steps"] // 5
    assert [e.step for e in events if e.eval is None] == list(
        range(1, (best + 1) * steps_per_epoch + 1)
    )
    assert metrics["total_steps"] == full["total_steps"]  # the schedule still spans 5 epochs
    chosen, rejected = held_out_scores(result.output_dir)
    assert pairwise_accuracy(chosen, rejected) == full["final_accuracy"]


def test_without_test_rows_every_epoch_runs_and_the_last_is_kept(tiny_bert, tmp_path):
    config = overshooting(tiny_bert, epochs=2, patience=1)
    metrics = train_reward_model(config, TRAIN, [], tmp_path / "out").metrics
    assert metrics["eval"] == [] and metrics["final_accuracy"] is None
    assert metrics["epochs_run"] == 2 and metrics["best_epoch"] == 2
    assert not metrics["stopped_early"]


def test_cancelling_before_an_evaluation_still_raises_and_writes_nothing(tiny_bert, tmp_path):
    config = overshooting(tiny_bert, patience=1)
    steps_per_epoch = -(-len(TRAIN) // config.batch_size)
    asked: list[int] = []

    def should_stop() -> bool:  # asked before each step, then before the epoch's evaluation
        asked.append(1)
        return len(asked) > steps_per_epoch

    events: list[ProgressEvent] = []
    with pytest.raises(TrainingCancelled):
        train_reward_model(
            config,
            TRAIN,
            TEST,
            tmp_path / "out",
            on_progress=events.append,
            should_stop=should_stop,
        )
    assert [e.eval for e in events if e.eval is not None] == []
    assert len(events) == steps_per_epoch
    assert not (tmp_path / "out").exists()


def test_best_epoch_needs_a_strictly_better_accuracy_and_counts_patience():
    model = torch.nn.Linear(2, 1)
    best = BestEpoch(patience=2)
    assert best.offer({"epoch": 1, "accuracy": 0.6, "loss": 0.7}, model)
    kept = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not best.offer({"epoch": 2, "accuracy": 0.6, "loss": 0.5}, model)  # a tie: earlier
    assert not best.exhausted()
    assert not best.offer({"epoch": 3, "accuracy": 0.55, "loss": 0.5}, model)
    assert best.exhausted() and best.evaluation["epoch"] == 1
    best.restore(model)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in kept.items())
    assert best.offer({"epoch": 4, "accuracy": 0.65, "loss": 0.9}, model)
    assert not best.exhausted() and best.evaluation["epoch"] == 4


def test_patience_below_one_is_refused():
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=0).validate()


def test_under_two_processes_every_rank_stops_at_rank_0s_epoch(tiny_bert, tmp_path):
    # Mean pooling, so DDP also meets a parameter without a gradient (the unused pooler).
    config = overshooting(tiny_bert, learning_rate=1e-2, seed=1, patience=1, pooling="mean")
    one = train_reward_model(config, TRAIN, TEST, tmp_path / "one").metrics
    two = train_in_processes(config, TRAIN, TEST, tmp_path / "two", world_size=2).metrics
    assert one["stopped_early"] and two["stopped_early"], "the premise: this seed stops early"
    assert two["epochs_run"] == one["epochs_run"] and two["best_epoch"] == one["best_epoch"]
    assert [e["accuracy"] for e in two["eval"]] == [e["accuracy"] for e in one["eval"]]
    assert len(two["train_loss"]) == len(one["train_loss"])
    chosen, rejected = held_out_scores(tmp_path / "two")
    assert pairwise_accuracy(chosen, rejected) == two["final_accuracy"] == one["final_accuracy"]
