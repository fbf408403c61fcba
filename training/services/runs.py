"""Training runs: the one door to start, execute and cancel them.

``start_training_run`` validates and stores a queued run and enqueues the Celery task once the
transaction commits; the REST view, the admin page and the retraining schedule call it, and the
management command calls it with ``enqueue=False`` and executes the run in-process.
``execute_training_run`` is what the task (or the command) does: it claims the queued run,
reads the dataset version, calls the trainer core (:mod:`training.services.trainer`) and
records the outcome. Every write to a run after it is queued is a conditional
``queryset.update`` of the fields it owns, so a progress write never overwrites a cancel
request, and a run that was cancelled before a worker took it is never started.
"""

import json
import logging
import shutil
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotation.models import BackgroundJob, JobStatus
from annotation.services import artifact_store
from annotation.services.audit import record_event
from annotation.services.jobs import enqueue_on_commit
from exports.models import DatasetVersion
from training.models import ModelVersion, PolicyVersion, RunKind, RunStatus, TrainingRun
from training.services.base_models import BaseModelRefused, base_model_path
from training.services.datasets import (
    DatasetUnusable,
    check_trainable,
    read_preference_rows,
    split_rows,
)
from training.services.model_rendering import trained_rendering
from training.services.policy_options import validate_run_options
from training.services.run_heartbeat import RunHeartbeat
from training.services.run_options import (
    OPTION_NAMES,
    RunOptionsInvalid,
    check_model_name,
    default_model_name,
)
from training.services.run_progress import (
    TRAINING_JOB,
    CancelCheck,
    ProgressWriter,
    poll_seconds,
    thin,
)

logger = logging.getLogger(__name__)

RUNS_DIR = Path("training") / "runs"


class RunFinished(ValueError):
    """The run has already finished, so it cannot be cancelled."""


def audit_sprint(dataset: DatasetVersion):
    """The sprint an audit event about this dataset belongs to: its only sprint, if it has one
    (the lead-scoped audit log then shows it to that sprint's leads)."""
    sprints = list(dataset.sprints.all()[:2])
    return sprints[0] if len(sprints) == 1 else None


def start_training_run(
    dataset: DatasetVersion,
    *,
    actor: AbstractBaseUser | None,
    base_model: str | None = None,
    name: str | None = None,
    options: dict[str, Any] | None = None,
    enqueue: bool = True,
    on_behalf_of: AbstractBaseUser | None = None,
    kind: str = RunKind.REWARD,
) -> TrainingRun:
    """Store a queued run of ``kind`` (``reward`` or ``dpo``) for ``dataset`` and, once the
    transaction commits, enqueue the task on the ``gpu`` queue. Nothing is stored when the
    dataset cannot be trained from (:class:`DatasetUnusable`) or an option is bad
    (:class:`RunOptionsInvalid`, an option of the other kind included), the base model
    included: ``actor`` must lead a ``model:<id>`` (reward) or ``policy:<id>`` (dpo), and a
    path must lie under the configured roots (:mod:`training.services.base_models`;
    ``actor=None`` is the operator or the schedule). A dpo run must name its base model (no
    causal LM ships); a reward run defaults to the packaged MiniLM. Access to the dataset is
    the caller's to check: this door trusts ``actor``.

    ``on_behalf_of`` is for the retraining schedule: the person whose run is being retrained.
    The run is theirs (``created_by``), so the base model is checked for them now, on the
    worker, and at every later retraining; the audit event names ``actor`` (None: the
    schedule)."""
    from training.services.train_config import DEFAULT_BASE_MODEL

    check_trainable(dataset)
    config = validate_run_options(kind, options or {})
    dpo = kind == RunKind.DPO
    base_model = (base_model or "").strip() or ("" if dpo else DEFAULT_BASE_MODEL)
    if not base_model:
        message = "Required for a dpo run: policy:<id>, or a model under the base model roots."
        raise RunOptionsInvalid([{"field": "base_model", "message": message}])
    if len(base_model) > 500:
        raise RunOptionsInvalid([{"field": "base_model", "message": "At most 500 characters."}])
    owner = on_behalf_of or actor
    base_model_path(base_model, actor=owner, kind=kind)
    name = name or default_model_name(dataset, "policy" if dpo else "reward")
    check_model_name(name, actor, registry=PolicyVersion if dpo else ModelVersion)
    with transaction.atomic():
        run = TrainingRun.objects.create(
            dataset=dataset,
            kind=kind,
            model_name=name,
            base_model=base_model,
            config=config,
            created_by=owner,
        )
        record_event(
            actor,
            "training_run.started",
            run,
            sprint=audit_sprint(dataset),
            changes={
                "dataset": dataset.pk, "kind": kind, "name": name, "base_model": base_model,
                **config,
            },
        )  # fmt: skip
        if enqueue:
            # A background job (annotation.services.jobs): published on commit, and a broker
            # that is down never fails the caller; the job sweep publishes it again.
            enqueue_on_commit(TRAINING_JOB, run.pk)
    return run


def cancel_training_run(run: TrainingRun, *, actor: AbstractBaseUser | None) -> TrainingRun:
    """Ask a run to stop. A queued run is cancelled at once (a worker that takes its message
    later finds it cancelled and does nothing); a running one is flagged, and its worker stops
    at its next check (at most ``CONCORD_TRAINING_POLL_SECONDS`` later) and marks it
    cancelled. Asking twice changes nothing; a finished run raises :class:`RunFinished`."""
    now = timezone.now()
    with transaction.atomic():
        TrainingRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.CANCELLED, cancel_requested=True, finished_at=now
        )
        TrainingRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            cancel_requested=True
        )
        run.refresh_from_db()
        if run.status in (RunStatus.DONE, RunStatus.FAILED):
            raise RunFinished(f"Training run {run.pk} has already finished ({run.status}).")
        record_event(actor, "training_run.cancel_requested", run, sprint=audit_sprint(run.dataset))
    return run


def run_output_dir(run_id: int) -> tuple[Path, str]:
    """The local folder the trainer writes a run's artifacts into, and their folder name in
    the artifact store (the same path relative to DATA_DIR: on the local store the folder is
    where they stay, on S3 a scratch copy removed once uploaded)."""
    relative = RUNS_DIR / f"run-{run_id}"
    return Path(settings.DATA_DIR) / relative, relative.as_posix()


def finish_run(run_id: int, status: RunStatus, *, error: str = "", **values: Any) -> bool:
    """Move a running run to a final status; False if it was not running any more."""
    return bool(
        TrainingRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
            status=status, error=error, finished_at=timezone.now(), **values
        )
    )


def execute_training_run(
    run_id: int, *, on_event: Callable[[Any], None] | None = None
) -> TrainingRun | None:
    """Train the queued run ``run_id`` to its end and record the outcome: done with a
    candidate :class:`ModelVersion` (a :class:`PolicyVersion` for a dpo run), cancelled, or
    failed with the reason. Returns the run, or ``None`` when it was not queued (cancelled
    before it started, or already taken: a duplicate delivery never trains twice). A running
    run whose heartbeat is older than :func:`stall_after` lost its worker: the job sweep
    started it again, and it is trained again from scratch (same options and seed).
    ``on_event`` sees every trainer event (the command's progress bar). While it runs, the run
    and its job beat (:mod:`.run_heartbeat`)."""
    from training.services import trainer
    from training.services.policy_runs import PolicyRunUnusable, train_policy_run

    now = timezone.now()
    stalled = Q(status=RunStatus.RUNNING, heartbeat_at__lt=now - stall_after())
    claimed = TrainingRun.objects.filter(Q(status=RunStatus.QUEUED) | stalled, pk=run_id).update(
        status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, progress=0.0,
        current_step=0, total_steps=0, metrics={}, error="",
    )  # fmt: skip
    if not claimed:
        logger.info("training run %s is not queued (nor stalled); nothing to do", run_id)
        return None
    output_dir, relative_dir = run_output_dir(run_id)
    heartbeat = RunHeartbeat(run_id, TRAINING_JOB).start()
    try:
        run = TrainingRun.objects.select_related("dataset", "created_by").get(pk=run_id)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        # A dpo run: training.services.policy_runs (one process, TRL's DPOTrainer).
        train = train_policy_run if run.kind == RunKind.DPO else train_reward_run
        metrics, full_config = train(run, output_dir, heartbeat, on_event)
        # What every score of this model renders with: the dataset's rendering and the saved
        # tokenizer's chat template (training.services.model_rendering).
        full_config["rendering"] = trained_rendering(run.dataset, output_dir)
        TrainingRun.objects.filter(pk=run_id).update(config=full_config)
        write_provenance(output_dir, run, full_config)
        # Into the artifact store with a manifest of every file's SHA-256 (on S3 the local
        # folder is removed once uploaded); the manifest's own digest is recorded on the run.
        artifacts_sha256 = artifact_store.publish_directory(output_dir, relative_dir)
        record_done(run_id, metrics, relative_dir, artifacts_sha256)
    except trainer.TrainingCancelled:
        shutil.rmtree(output_dir, ignore_errors=True)
        finish_run(run_id, RunStatus.CANCELLED, error="Cancelled on request.")
    except (trainer.BaseModelNotFound, BaseModelRefused, DatasetUnusable, PolicyRunUnusable) as exc:
        shutil.rmtree(output_dir, ignore_errors=True)
        finish_run(run_id, RunStatus.FAILED, error=str(exc))
    except Exception as exc:
        # Whatever went wrong, the run must not stay "running": it ends failed, with the reason.
        logger.exception("training run %s failed", run_id)
        shutil.rmtree(output_dir, ignore_errors=True)
        finish_run(run_id, RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
    finally:
        heartbeat.stop()
    return TrainingRun.objects.get(pk=run_id)


def train_reward_run(
    run: TrainingRun, output_dir: Path, heartbeat: RunHeartbeat, on_event: Callable | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train reward run ``run`` into ``output_dir`` (one process, or several under torchrun and
    DDP: training.services.distributed, same outcome); its metrics and full config."""
    from training.services import distributed, trainer

    options = {key: value for key, value in run.config.items() if key in OPTION_NAMES}
    # Checked again here, before anything is loaded: the run may have been stored before
    # the rule, its creator may have lost the model's sprints, or a root may have changed.
    base_model = base_model_path(run.base_model, actor=run.created_by, stage=True)
    config = trainer.TrainConfig(base_model=base_model, **options)
    splits = split_rows(read_preference_rows(run.dataset), seed=config.seed)
    world_size = distributed.world_size_for(settings.CONCORD_TRAINING_PROCESSES, config.device)
    full_config = {
        **config.to_dict(),
        "test_source": splits.test_source,
        "holdout_share": splits.holdout_share,
        "train_pairs": len(splits.train),
        "test_pairs": len(splits.test),
        "world_size": world_size,
    }
    TrainingRun.objects.filter(pk=run.pk).update(config=full_config, world_size=world_size)
    train = trainer.train_reward_model
    if world_size > 1:
        train = partial(distributed.train_in_processes, world_size=world_size)
    result = train(
        config,
        splits.train,
        splits.test,
        output_dir,
        on_progress=ProgressWriter(
            run.pk, poll_seconds(), heartbeat.watching(on_event, epochs=config.epochs)
        ),
        should_stop=CancelCheck(run.pk, poll_seconds()),
    )
    return result.metrics, full_config


def record_done(
    run_id: int, metrics: dict[str, Any], relative_dir: str, artifacts_sha256: str = ""
) -> None:
    """Mark the run done and register it as a candidate, in one transaction: a
    :class:`ModelVersion` for a reward run, a :class:`PolicyVersion` for a dpo run. A run
    cancelled or failed meanwhile (by the abandoned-run sweep) stays as it is, unregistered."""
    from training.services.policy_registry import register_policy_version
    from training.services.registry import register_model_version

    # metrics.json keeps every step; the rows keep a curve that is cheap to serve.
    metrics = {**metrics, "train_loss": thin(metrics.get("train_loss", []))}
    with transaction.atomic():
        finished = finish_run(
            run_id,
            RunStatus.DONE,
            progress=1.0,
            metrics=metrics,
            device=str(metrics.get("device", ""))[:32],
            library_versions=metrics.get("library_versions", {}),
            artifacts_dir=relative_dir,
            artifacts_sha256=artifacts_sha256,
            heartbeat_at=timezone.now(),
        )
        if finished:
            run = TrainingRun.objects.select_related("dataset").get(pk=run_id)
            if run.kind == RunKind.DPO:
                register_policy_version(run)
            else:
                register_model_version(run)


def write_provenance(output_dir: Path, run: TrainingRun, config: dict[str, Any]) -> None:
    """``concord_run.json`` beside the model: which run, dataset version (with its digest and
    sprints) and settings made it, so the artifacts explain themselves without the database."""
    dataset = run.dataset
    record = {
        "run": run.pk,
        "model_name": run.model_name,
        "created_by": run.created_by.get_username() if run.created_by else None,
        "dataset": {
            "id": dataset.pk,
            "sha256": dataset.sha256,
            "rows": dataset.rows,
            "format": dataset.format,
            "filters": dataset.filters,
            "sprints": sorted(dataset.sprints.values_list("slug", flat=True)),
        },
        "config": config,
    }
    (output_dir / "concord_run.json").write_text(json.dumps(record, indent=2))


def stall_after() -> timedelta:
    """How long a running run may go without a heartbeat before its worker counts as lost
    (``CONCORD_TRAINING_STALL_SECONDS``): the job sweep then starts it again once, then fails it."""
    return timedelta(seconds=settings.CONCORD_TRAINING_STALL_SECONDS)


def fail_abandoned_run(run_id: int, reason: str) -> bool:
    """Fail one running run whose worker was lost (the job sweep's verdict); False if it was
    not running any more."""
    return finish_run(run_id, RunStatus.FAILED, error=reason)


def fail_abandoned_runs(*, stall_seconds: float | None = None) -> int:
    """Mark failed the running runs whose worker stopped reporting and that no background job
    will start again (started in-process by the command, or before jobs existed); a run with
    an unfinished job is the job sweep's (annotation.services.job_sweep), which starts it again
    once. The training task is acknowledged when a worker takes it (``acks_late=False``), so a
    dead worker's run is never redelivered behind this back. Returns how many runs it failed."""
    seconds = settings.CONCORD_TRAINING_STALL_SECONDS if stall_seconds is None else stall_seconds
    with_job = BackgroundJob.objects.filter(
        kind=TRAINING_JOB, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).values_list("key", flat=True)
    cutoff = timezone.now() - timedelta(seconds=seconds)
    abandoned = TrainingRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff)
    ids = [pk for pk in abandoned.values_list("pk", flat=True) if str(pk) not in set(with_job)]
    return TrainingRun.objects.filter(pk__in=ids, status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        error=(
            f"The worker stopped reporting progress for {seconds:g} s (it was killed or lost); "
            "start the run again."
        ),
    )
