"""The model registry: registering finished runs, promoting versions, and retraining on a
schedule.

A name's versions count up from 1. Promoting a version to production archives the name's
previous production version in the same transaction, under a row lock on the name's versions;
the partial unique index ``model_one_production_per_name`` is the database's guarantee on top.

Retraining (:func:`start_due_retrainings`, run by Celery beat): for each production model,
count the consensus labels of its sprints updated since its run finished. At
``CONCORD_RETRAIN_AFTER_LABELS`` (default 100) or more, it starts a run with the production
run's base model and options on the newest finished preference export of the same sprints,
format and filters that already holds at least that many of the new labels (created after
them). When there is none, it starts that export (:func:`exports.services.build.start_export`,
in the name of whoever promoted the model or started its run, if they still lead every
sprint), and the next tick trains on it once it is done. It starts no second export while one
made after the newest label exists (queued, running or failed: a failing export is retried only
when new labels arrive). One retraining per production model: once any run of the name was
started after the production run finished, the schedule leaves the name alone until a lead
promotes a newer version. The base model is checked again, for whoever started the production
run (:mod:`training.services.base_models`): one that is no longer allowed (a path outside the
configured roots, a model version they no longer lead) is logged and not retrained from.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet

from exports.models import DatasetVersion, ExportKind, ExportStatus
from reviews.models import ConsensusLabel
from training.models import ModelStage, ModelVersion, PolicyVersion, RunKind, TrainingRun
from training.services.datasets import TRAINABLE_FORMATS, datasets_led_by
from training.services.stages import change_stage, require_lead

logger = logging.getLogger(__name__)


def runs_led_by(user: AbstractBaseUser) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(dataset__in=datasets_led_by(user))


def models_led_by(user: AbstractBaseUser) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(run__dataset__in=datasets_led_by(user))


def register_model_version(run: TrainingRun) -> ModelVersion:
    """Register a done run as the next candidate version of its name, with the rendering its
    run recorded (:func:`recorded_rendering`); see :func:`register_next_version`."""
    return register_next_version(ModelVersion, run, rendering=recorded_rendering(run))


def register_next_version(
    registry: type[ModelVersion] | type[PolicyVersion], run: TrainingRun, **fields: Any
) -> ModelVersion | PolicyVersion:
    """Register a done run in ``registry`` (ModelVersion or PolicyVersion) as the next candidate
    version of its name, with the run's metrics, its dataset's sprints and ``fields``.
    Idempotent: a run that is already registered returns its version. Two runs of one name that
    finish together each get their own number (the unique (name, version) index makes the
    loser retry)."""
    existing = registry.objects.filter(run=run).first()
    if existing is not None:
        return existing
    sprints = list(run.dataset.sprints.all())
    for _attempt in range(5):
        try:
            with transaction.atomic():
                latest = registry.objects.filter(name=run.model_name).aggregate(
                    latest=Max("version")
                )["latest"]
                version = registry.objects.create(
                    name=run.model_name,
                    version=(latest or 0) + 1,
                    run=run,
                    metrics=run.metrics,
                    **fields,
                )
                version.sprints.set(sprints)
                return version
        except IntegrityError:
            existing = registry.objects.filter(run=run).first()
            if existing is not None:
                return existing
    raise RuntimeError(f"could not number a new version of {run.model_name!r}")


def recorded_rendering(run: TrainingRun) -> dict:
    """The rendering a version scores with: the one its run recorded, else (a run from before
    runs recorded one) its dataset's, with the chat template unknown (null)."""
    from training.services.model_rendering import dataset_rendering

    recorded = (run.config or {}).get("rendering")
    return recorded or {**dataset_rendering(run.dataset), "chat_template": None}


def promote_model_version(
    model: ModelVersion, stage: ModelStage, *, actor: AbstractBaseUser | None
) -> ModelVersion:
    """Move ``model`` to ``stage``. To production: the name's current production version, if
    any, is archived first, in one transaction with a row lock on the name's versions, and both
    changes are audited and written as registry events
    (:func:`training.services.stages.change_stage`). Moving a version to the stage it is in
    changes nothing. ``actor`` must lead the version's dataset (403 or 404, checked here
    whatever the door; ``None`` is the operator)."""
    if actor is not None:
        require_lead(model, actor)
    return change_stage(model, stage, actor=actor)


# --- retraining --------------------------------------------------------------------------------


@dataclass
class RetrainingCheck:
    """What the schedule decided for one production model: ``started`` (``run`` set),
    ``below_threshold``, ``already_retrained``, ``export_started``, ``waiting_for_export`` or
    ``base_model_refused``."""

    model: ModelVersion
    new_labels: int
    outcome: str
    run: TrainingRun | None = None


def retrain_threshold() -> int:
    """New consensus labels that make a production model due: ``CONCORD_RETRAIN_AFTER_LABELS``."""
    return settings.CONCORD_RETRAIN_AFTER_LABELS


def same_export(dataset: DatasetVersion, sprint_ids: set[int], source: DatasetVersion) -> bool:
    """Whether ``dataset`` exports exactly ``sprint_ids`` in ``source``'s format with its
    filters (compared with the exports app's defaults filled in, as it stores them), and the
    same production part (feedback sources and their filters) or none, as ``source`` has: a
    retraining must never take in another lead's production pairs, nor drop its own."""
    from exports.services.requests import DEFAULT_FILTERS

    def sources_of(version: DatasetVersion) -> set[int]:
        return set(version.feedback_sources.values_list("pk", flat=True))

    return (
        dataset.format == source.format
        and set(dataset.sprints.values_list("pk", flat=True)) == sprint_ids
        and {**DEFAULT_FILTERS, **dataset.filters} == {**DEFAULT_FILTERS, **source.filters}
        and dataset.production == source.production
        and sources_of(dataset) == sources_of(source)
    )


def fresh_dataset_for(model: ModelVersion, since, threshold: int) -> DatasetVersion | None:
    """The newest finished preference export like ``model``'s dataset (:func:`same_export`),
    created after at least ``threshold`` labels changed since ``since``."""
    sprint_ids = set(model.sprints.values_list("pk", flat=True))
    candidates = (
        DatasetVersion.objects.filter(
            kind=ExportKind.PREFERENCE,
            status=ExportStatus.DONE,
            format__in=TRAINABLE_FORMATS,
            created_at__gt=since,
            sprints__in=sprint_ids,
        )
        .exclude(pk=model.run.dataset_id)
        .distinct()
        .order_by("-created_at", "-pk")
    )
    for dataset in candidates:
        if not same_export(dataset, sprint_ids, model.run.dataset):
            continue
        included = ConsensusLabel.objects.filter(
            sprint__in=sprint_ids, updated_at__gt=since, updated_at__lte=dataset.created_at
        ).count()
        if included >= threshold:
            return dataset
    return None


def request_export(model: ModelVersion, since) -> DatasetVersion | None:
    """Start an export like the production model's dataset (same sprints, format and filters)
    unless one was made after the newest new label; ``None`` when none was started."""
    from exports.services.build import start_export
    from exports.services.requests import ExportRejected

    sprint_ids = set(model.sprints.values_list("pk", flat=True))
    newest_label = ConsensusLabel.objects.filter(
        sprint__in=sprint_ids, updated_at__gt=since
    ).aggregate(newest=Max("updated_at"))["newest"]
    source = model.run.dataset
    recent = DatasetVersion.objects.filter(
        kind=ExportKind.PREFERENCE, created_at__gte=newest_label
    ).filter(pk__in=DatasetVersion.objects.filter(sprints__in=sprint_ids).values("pk"))
    if any(same_export(dataset, sprint_ids, source) for dataset in recent):
        return None
    request = {
        "sprints": sorted(sprint_ids),
        "kind": ExportKind.PREFERENCE,
        "format": source.format,
        "filters": source.filters,
    }
    if source.production is not None:
        request["sources"] = ["sprints", "production"]
        request["production"] = source.production
    for user in (model.promoted_by, model.run.created_by):
        if user is None:
            continue
        try:
            return start_export(user, request)
        except ExportRejected as rejected:
            logger.info("%s cannot export for %s: %s", user, model, rejected)
    return None


def check_retraining(model: ModelVersion, threshold: int) -> RetrainingCheck:
    """Decide, and start the run when due, for one production ``model``."""
    from training.services.base_models import BaseModelRefused, base_model_path
    from training.services.run_options import OPTION_NAMES
    from training.services.runs import start_training_run

    since = model.run.finished_at or model.created_at
    new_labels = ConsensusLabel.objects.filter(
        sprint__in=model.sprints.all(), updated_at__gt=since
    ).count()
    if new_labels < threshold:
        return RetrainingCheck(model, new_labels, "below_threshold")
    # Reward runs only: a dpo run may carry the same name (the policy registry's names are
    # apart), and another team's policy named like this model must not stop its retraining.
    later_runs = TrainingRun.objects.filter(
        kind=RunKind.REWARD, model_name=model.name, created_at__gt=since
    )
    if later_runs.exclude(pk=model.run_id).exists():
        return RetrainingCheck(model, new_labels, "already_retrained")
    try:
        # The schedule acts for nobody, so the base model is checked for its chooser here.
        base_model_path(model.run.base_model, actor=model.run.created_by)
    except BaseModelRefused as refused:
        logger.warning("%s: not retrained from %r: %s", model, model.run.base_model, refused)
        return RetrainingCheck(model, new_labels, "base_model_refused")
    dataset = fresh_dataset_for(model, since, threshold)
    if dataset is None:
        outcome = "export_started" if request_export(model, since) else "waiting_for_export"
        logger.info("%s: %d new consensus labels, %s", model, new_labels, outcome)
        return RetrainingCheck(model, new_labels, outcome)
    # A run from before pooling was an option used the model's own head: keep it, so that a
    # retrained version has the architecture of the one it replaces.
    options = {"pooling": "model"}
    options.update({k: v for k, v in model.run.config.items() if k in OPTION_NAMES})
    run = start_training_run(
        dataset,
        actor=None,
        base_model=model.run.base_model,
        name=model.name,
        options=options,
        # The run stays its chooser's, so the next retraining checks the base model for them
        # too (a run of nobody's would accept any model:<id>).
        on_behalf_of=model.run.created_by,
    )
    logger.info("%s: %d new consensus labels; started %s", model, new_labels, run)
    return RetrainingCheck(model, new_labels, "started", run)


def start_due_retrainings() -> list[RetrainingCheck]:
    """Check every production model (see the module docstring); returns one check each."""
    threshold = retrain_threshold()
    production = ModelVersion.objects.filter(stage=ModelStage.PRODUCTION).select_related(
        "run__dataset"
    )
    return [check_retraining(model, threshold) for model in production]
