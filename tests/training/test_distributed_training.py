"""Data-parallel training on the CPU: two gloo processes under torchrun train the tiny decoder
as one process does, a cancel stops every rank, and the world size follows
``CONCORD_TRAINING_PROCESSES`` and the GPUs (runs: ``test_distributed_runs``).

Tolerance: the two-process run differs from the one-process run only in float rounding (each
step's gradient is the all-reduced sum of two half-batch gradients instead of one, and a half
batch is padded to its own longest pair), about 1e-7 relative per step in float32; the test
allows 1e-4 relative on every step's loss and on the held-out loss, three orders of magnitude
above that and far below what a wrong shard (a pair dropped or counted twice) moves a
step's loss on this data (dropping one pair a batch moves every step by 5e-3 or more).
The held-out accuracy must be equal.
"""

import json
import math

import pytest
import torch

from tests.training.trainer_fixtures import (
    HELD_OUT_FACTS,
    TRAIN_FACTS,
    factual_pairs,
    save_tiny_decoder,
)
from training.services.distributed import train_in_processes, world_size_for
from training.services.trainer import TrainConfig, TrainingCancelled, train_reward_model

# Neither the database nor the broker: the embedded CI pass has nothing to add here (.ci/run).
pytestmark = pytest.mark.nodb

RELATIVE = 1e-4


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> str:
    return save_tiny_decoder(tmp_path_factory.mktemp("tiny") / "decoder")


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-7)


def test_two_gloo_processes_give_the_one_process_loss_curve(tiny_base, tmp_path):
    # 40 pairs in batches of 3: the last batch has one pair (rank 1 gets none of it), and two
    # micro-batches a step exercise DDP's no_sync accumulation.
    config = TrainConfig(
        base_model=tiny_base, max_length=64, epochs=2, batch_size=3, gradient_accumulation=2,
        learning_rate=1e-3, device="cpu",
    )  # fmt: skip
    train, test = factual_pairs(TRAIN_FACTS), factual_pairs(HELD_OUT_FACTS)
    one = train_reward_model(config, train, test, tmp_path / "one").metrics
    events = []
    two = train_in_processes(
        config, train, test, tmp_path / "two", world_size=2, on_progress=events.append
    ).metrics

    assert one["world_size"] == 1 and two["world_size"] == 2
    assert one["total_steps"] == two["total_steps"] == 2 * math.ceil(math.ceil(40 / 3) / 2)
    assert len(two["train_loss"]) == two["total_steps"]
    for a, b in zip(one["train_loss"], two["train_loss"], strict=True):
        assert a["step"] == b["step"] and close(a["loss"], b["loss"]), (a, b)
    assert [e["accuracy"] for e in two["eval"]] == [e["accuracy"] for e in one["eval"]]
    for a, b in zip(one["eval"], two["eval"], strict=True):
        assert close(a["loss"], b["loss"]), (a, b)
    # Progress came through as it went: every step, then each epoch's evaluation.
    assert [e.loss for e in events if e.eval is None] == [p["loss"] for p in two["train_loss"]]
    assert [e.eval for e in events if e.eval is not None] == two["eval"]
    assert json.loads((tmp_path / "two" / "metrics.json").read_text()) == two
    assert (tmp_path / "two" / "model.safetensors").is_file()


def test_a_cancel_stops_every_rank_and_writes_nothing(tiny_base, tmp_path):
    config = TrainConfig(base_model=tiny_base, max_length=64, epochs=3, batch_size=4, device="cpu")
    events = []
    with pytest.raises(TrainingCancelled):
        train_in_processes(
            config,
            factual_pairs(TRAIN_FACTS),
            factual_pairs(HELD_OUT_FACTS),
            tmp_path / "out",
            world_size=2,
            on_progress=events.append,
            should_stop=lambda: bool(events),
            poll_seconds=0.1,
        )
    assert events and events[-1].step < 3 * 10
    assert not (tmp_path / "out").exists()


def test_the_world_size_follows_the_setting_and_the_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert world_size_for(1, None) == 1
    assert world_size_for(2, "cpu") == world_size_for(2, None) == 2
    assert world_size_for("auto", None) == world_size_for("auto", "cpu") == 1
    assert world_size_for(4, "mps") == 1
    with pytest.raises(ValueError, match="is 2, but this worker has 0 CUDA GPU"):
        world_size_for(2, "cuda")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert world_size_for("auto", None) == world_size_for("auto", "cuda:1") == 4
    assert world_size_for("auto", "cpu") == 1
    assert world_size_for(3, "cuda") == 3
