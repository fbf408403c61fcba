"""Scoring responses with a registered reward model: the one function every path that scores
goes through (:func:`score_items`: the score endpoint, active selection, evaluation).

Rendering: an item (its prompt, its context documents, its responses) is written the way the
model's training rows were (:func:`training.services.model_rendering.model_rendering`: the
dataset's form, context and templates), then tokenized by the trainer's own
``encode_responses`` (the tokenizer's chat template for a conversational model), so a training
row scores the same through the API as in the trainer's own evaluation.

Which stage scores, by purpose:

- ``serving`` (the default; active selection, and the score endpoint unless asked otherwise):
  only a production version. A candidate has not been looked at by a lead, and an archived one
  was replaced, so scores from either would silently disagree with what the team chose.
- ``evaluation`` (the score endpoint with ``"purpose": "evaluation"``): a candidate or the
  production version, so a lead can compare a candidate with production before promoting it.
  An archived version still answers 409. Who may ask is the endpoint's rule for every purpose:
  a lead of every sprint and feedback source of the version's dataset
  (``training.api.access.led_model``).

Loaded scorers are kept per process in a small LRU cache keyed by model version id
(``CONCORD_SCORER_CACHE_SIZE``, default 2): a version's artifacts never change, so a cached
scorer never goes stale, and loading one costs seconds. The device is
``CONCORD_SCORING_DEVICE`` (default: the trainer's choice, CUDA when there is one), and pairs
go through the model ``CONCORD_SCORE_BATCH_SIZE`` at a time, sorted by length.
"""

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from annotation.services import artifact_store
from annotation.services.errors import ConcordError
from training.models import ModelStage, ModelVersion
from training.services.datasets import datasets_led_by
from training.services.model_rendering import model_rendering

SERVING = "serving"
EVALUATION = "evaluation"
PURPOSES = (SERVING, EVALUATION)
# The stages that score for each purpose (see the module note).
SCORING_STAGES = {
    SERVING: (ModelStage.PRODUCTION,),
    EVALUATION: (ModelStage.CANDIDATE, ModelStage.PRODUCTION),
}


class ScoreItem(TypedDict, total=False):
    """One question to score: ``prompt`` (text or chat messages), ``context`` (the item's
    documents, optional), ``responses`` (texts or chat messages)."""

    prompt: Any
    context: list[dict[str, Any]] | None
    responses: list[Any]


class NotInProduction(ConcordError):
    """The model version's stage does not score for the purpose asked: not production for
    serving, archived for evaluation (see the module note)."""

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


def check_scorable(model: ModelVersion, purpose: str = SERVING) -> None:
    """Raise :class:`NotInProduction` (409) unless ``model``'s stage scores for ``purpose``."""
    if model.stage in SCORING_STAGES[purpose]:
        return
    if purpose == EVALUATION:
        raise NotInProduction(
            f"{model.name} v{model.version} is archived; only a candidate or the production "
            "version scores for evaluation."
        )
    raise NotInProduction(
        f"{model.name} v{model.version} is {model.stage}; only a production model scores. "
        "Promote it to production first, or score a candidate with purpose 'evaluation'."
    )


class EvaluationRefused(ConcordError):
    """Scoring a candidate for evaluation was asked by someone who does not lead its data."""

    status = 403


def check_evaluator(model: ModelVersion, actor: AbstractBaseUser | None) -> None:
    """Raise :class:`EvaluationRefused` unless ``actor`` leads every sprint and feedback source
    of ``model``'s dataset (superusers lead all). Checked here, not only by the API's object
    lookup, so that no caller can score a candidate for someone who may not see it."""
    led = datasets_led_by(actor) if actor is not None else None
    if led is None or not led.filter(pk=model.run.dataset_id).exists():
        raise EvaluationRefused(
            "Scoring a model for evaluation needs the lead role in every sprint and feedback "
            "source of its dataset.",
            field="purpose",
        )


def score_items(
    model: ModelVersion,
    items: Sequence[ScoreItem],
    *,
    purpose: str = SERVING,
    actor: AbstractBaseUser | None = None,
) -> list[list[float]]:
    """One list of rewards per item, one reward per response in the order given; higher is
    better. Every item is rendered as the model's training rows were (module note), and all
    their (prompt, response) pairs go through the model in one length-sorted batched pass.
    Raises :class:`NotInProduction` when the model's stage does not score for ``purpose``, and
    :class:`ArtifactsMissing` when its artifacts cannot be loaded. For ``evaluation``,
    ``actor`` must lead the model's data (:func:`check_evaluator`)."""
    check_scorable(model, purpose)
    if purpose == EVALUATION:
        check_evaluator(model, actor)
    rendering = model_rendering(model)
    prompts: list[Any] = []
    responses: list[Any] = []
    for item in items:
        prompt = rendering.prompt(item["prompt"], item.get("context"))
        for response in item["responses"]:
            prompts.append(prompt)
            responses.append(rendering.response(response))
    scores = scorer_for(model).score_pairs(
        prompts, responses, batch_size=settings.CONCORD_SCORE_BATCH_SIZE
    )
    results: list[list[float]] = []
    start = 0
    for item in items:
        end = start + len(item["responses"])
        results.append([float(score) for score in scores[start:end]])
        start = end
    return results
