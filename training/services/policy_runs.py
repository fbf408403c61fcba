"""What :func:`training.services.runs.execute_training_run` does for a run of kind ``dpo``.

The run goes through the same door, task, background job, heartbeat, progress writer, cancel
check and stall sweep as a reward run; only the training differs: TRL's ``DPOTrainer`` through
:mod:`training.services.policy_trainer`, in one process (a dpo run never uses
``CONCORD_TRAINING_PROCESSES``: no torchrun). The rows are the dataset's own rendering (grouped
rows expanded into pairs) split as for reward runs; the run then records its rendering,
provenance and artifacts like a reward run, and ``record_done`` registers a
:class:`~training.models.PolicyVersion`.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.models import RunKind, TrainingRun
from training.services.base_models import base_model_path
from training.services.datasets import read_preference_rows, split_rows
from training.services.policy_config import PolicyConfig, PolicyRunUnusable
from training.services.policy_loading import POLICY_REFERENCE
from training.services.policy_options import POLICY_OPTION_NAMES
from training.services.run_heartbeat import RunHeartbeat
from training.services.run_progress import CancelCheck, ProgressWriter, poll_seconds

__all__ = ["PolicyRunUnusable", "train_policy_run"]


def train_policy_run(
    run: TrainingRun, output_dir: Path, heartbeat: RunHeartbeat, on_event: Callable | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train dpo run ``run`` into ``output_dir``; its metrics and full config (also stored on
    the row before training starts). The base model is checked again for the run's creator
    before anything is loaded (a ``policy:<id>`` they no longer lead, or a root that changed,
    fails the run with the one refusal message)."""
    from training.services.policy_loading import load_base_model
    from training.services.policy_trainer import train_policy

    options = {key: value for key, value in run.config.items() if key in POLICY_OPTION_NAMES}
    folder = base_model_path(run.base_model, actor=run.created_by, stage=True, kind=RunKind.DPO)
    config = PolicyConfig(base_model=folder, **options)
    splits = split_rows(read_preference_rows(run.dataset), seed=config.seed)
    full_config = {
        **config.to_dict(),
        "base_model": run.base_model,
        "test_source": splits.test_source,
        "holdout_share": splits.holdout_share,
        "train_pairs": len(splits.train),
        "test_pairs": len(splits.test),
        "world_size": 1,
    }
    TrainingRun.objects.filter(pk=run.pk).update(config=full_config, world_size=1)
    # A registered policy is loaded whole (an adapter merged over its own base); its folder
    # holds the tokenizer either way.
    model = load_base_model(run.base_model) if POLICY_REFERENCE.match(run.base_model) else None
    result = train_policy(
        config,
        splits.train,
        splits.test,
        output_dir,
        model=model,
        on_progress=ProgressWriter(
            run.pk, poll_seconds(), heartbeat.watching(on_event, epochs=config.epochs)
        ),
        should_stop=CancelCheck(run.pk, poll_seconds()),
    )
    return result.metrics, full_config
