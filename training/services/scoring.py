"""Scoring responses with a registered reward model.

Only a production version scores: a candidate has not been looked at by a lead, and an archived
one was replaced, so scores from either would silently disagree with what the team chose.
Loaded scorers are kept per process in a small LRU cache keyed by model version id
(``CONCORD_SCORER_CACHE_SIZE``, default 2): a version's artifacts never change, so a cached
scorer never goes stale, and loading one costs seconds. The device is
``CONCORD_SCORING_DEVICE`` (default: the trainer's choice, CUDA when there is one).
"""

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from django.conf import settings

from annotation.services import artifact_store
from annotation.services.errors import ConcordError
from training.models import ModelStage, ModelVersion


class NotInProduction(ConcordError):
    """The model version is not in production, so it does not score."""

    status = 409


class ArtifactsMissing(ConcordError):
    """The model version's artifacts are gone from the artifact store, or do not match the
    digests recorded for them."""

    status = 409


_scorers: "OrderedDict[tuple, Any]" = OrderedDict()
_lock = threading.Lock()


def artifacts_path(model: ModelVersion) -> Path:
    """A local folder with the model version's artifacts, each file verified against the
    manifest its run recorded (annotation.services.artifact_store; on S3 staged into the
    artifact cache under the manifest's digest). Raises :class:`ArtifactsMissing`, naming
    the file, when one is missing or its bytes do not match. Runs stored before artifacts
    went to the store have no manifest: their folder on the local store is used as it is."""
    run = model.run
    label = f"The artifacts of {model.name} v{model.version}"
    try:
        if run.artifacts_dir and run.artifacts_sha256:
            return artifact_store.stage_directory(
                run.artifacts_dir, run.artifacts_sha256, label=label
            )
        if run.artifacts_dir and artifact_store.local_root() is not None:
            path = artifact_store.local_path(run.artifacts_dir)
            if path.is_dir():
                return path
    except artifact_store.ArtifactMissing:
        pass
    except artifact_store.ArtifactCorrupt as corrupt:
        raise ArtifactsMissing(str(corrupt)) from None
    raise ArtifactsMissing(f"{label} are missing from the artifact store.")


def scorer_for(model: ModelVersion) -> Any:
    """The loaded :class:`~training.services.trainer.RewardScorer` of ``model``, from the
    cache when it is there. Loading happens under a lock, so concurrent first requests load
    it once."""
    from training.services.trainer import BaseModelNotFound, RewardScorer

    # Keyed by what was loaded, not by the id alone: a row whose id comes back (a test database
    # rolled back, a restored backup) must never be served another model's weights.
    run = model.run
    key = (model.pk, run.pk, run.artifacts_dir, run.artifacts_sha256, model.created_at)
    with _lock:
        scorer = _scorers.get(key)
        if scorer is not None:
            _scorers.move_to_end(key)
            return scorer
        device = settings.CONCORD_SCORING_DEVICE
        try:
            scorer = RewardScorer.load(artifacts_path(model), device=device)
        except BaseModelNotFound as unreadable:
            raise ArtifactsMissing(
                f"The artifacts of {model.name} v{model.version} cannot be loaded: {unreadable}"
            ) from unreadable
        _scorers[key] = scorer
        size = settings.CONCORD_SCORER_CACHE_SIZE
        while len(_scorers) > size:
            _scorers.popitem(last=False)
        return scorer


def cached_model_ids() -> list[int]:
    """The ids of the cached scorers, least recently used first."""
    with _lock:
        return [key[0] for key in _scorers]


def clear_scorer_cache() -> None:
    with _lock:
        _scorers.clear()


def score_responses(
    model: ModelVersion, prompt: str | list[dict], responses: list[str | list[dict]]
) -> list[float]:
    """One reward per response, in the order given; higher is better. Raises
    :class:`NotInProduction` for a candidate or archived version."""
    if model.stage != ModelStage.PRODUCTION:
        raise NotInProduction(
            f"{model.name} v{model.version} is {model.stage}; only a production model scores. "
            "Promote it to production first."
        )
    return [float(score) for score in scorer_for(model).score(prompt, responses)]
