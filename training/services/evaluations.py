"""Evaluations of policies: the one door to start one, and what the gpu worker does with it.

``start_evaluation`` checks the whole request in the service (whoever calls it: the REST view,
the command): the actor leads the candidate's and the baseline's dataset sprints, the baseline
is another version (default: the production version of the candidate's name), the rubric is
ready, the prompts are good (a dataset's test split or a given list,
:mod:`.evaluation_prompts`), the sampling settings (:func:`.generation.validate_sampling`) and
the gate rule are in bounds, and the reward model, if one is named, is one the actor leads
that scores for evaluation. Any refusal is a :class:`ConcordError` naming the field, and
nothing is stored. Otherwise a queued :class:`PolicyEvaluation` is stored with the prompt
snapshot, the sampling record, the seed, the gate rule and the reward model of the automatic
first look (the one named, else the production reward model whose sprints include one of the
candidate dataset's sprints, when there is exactly one the actor leads; else none), and its
background job is enqueued on commit (:func:`annotation.services.jobs.enqueue_on_commit`).

``execute_evaluation`` is the worker's part (task ``training.tasks.evaluate_policy``, or the
command in-process): it claims the queued evaluation (or one whose worker stopped beating for
``CONCORD_TRAINING_STALL_SECONDS``: the job sweep started it again, and it is done again from
scratch, the same texts since generation is seeded), checks again that its starter leads both
policies' data (else it fails with that reason, nothing generated), generates both sides
(:mod:`.generation`), and then, in one transaction that first locks the evaluation row, makes
the blind sprint and records the automatic first look and ``done`` (:mod:`.evaluation_sprint`),
so a second start never makes a second sprint. Progress and the heartbeat are written while it
generates and by a timer while it loads; any error fails it with the reason. A lead may cancel
it meanwhile (:mod:`.evaluation_cancel`): the worker stops at its next progress write or before
the second side, and the final locked check makes no sprint for a cancelled evaluation.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotation.models import Rubric
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from annotation.services.jobs import enqueue_on_commit
from annotation.services.rubrics import rubric_problems
from exports.models import DatasetVersion
from training.models import ModelStage, ModelVersion, PolicyEvaluation, PolicyVersion, RunStatus
from training.services.datasets import datasets_led_by, datasets_visible_to
from training.services.evaluation_heartbeat import (
    EVALUATION_JOB,
    GENERATION_SHARE,
    EvaluationCancelled,
    evaluation_heartbeat,
    progress_writer,
    stop_if_cancelled,
)
from training.services.evaluation_prompts import dataset_prompts, given_prompts
from training.services.generation import generate, validate_sampling
from training.services.policy_registry import policies_led_by
from training.services.registry import models_led_by
from training.services.runs import audit_sprint, stall_after
from training.services.scoring import EVALUATION, SCORING_STAGES

logger = logging.getLogger(__name__)

UNFINISHED = (RunStatus.QUEUED, RunStatus.RUNNING)
MAX_SEED = 2**32 - 1


class EvaluationRefused(ConcordError):
    """The evaluation cannot be started as asked; the problems name the fields."""


def evaluations_led_by(user: AbstractBaseUser) -> QuerySet[PolicyEvaluation]:
    """The evaluations of candidates whose dataset ``user`` leads (every sprint of it)."""
    return PolicyEvaluation.objects.filter(candidate__in=policies_led_by(user))


def require_policy_lead(
    policy: PolicyVersion,
    actor: AbstractBaseUser | None,
    field: str,
    *,
    missing: str = "No such policy.",
) -> None:
    """Refuse unless ``actor`` (None: the operator) leads ``policy``'s dataset: 403 naming
    ``field`` for a member of its sprints, 404 (``missing``) for anyone else, so a policy of
    another team (a default baseline of a shared name included) is not even said to exist."""
    if actor is None or policies_led_by(actor).filter(pk=policy.pk).exists():
        return
    if datasets_visible_to(actor).filter(pk=policy.run.dataset_id).exists():
        raise EvaluationRefused(
            "Evaluating needs the lead role in every sprint of this policy's dataset.",
            status=403,
            field=field,
        )
    raise EvaluationRefused(missing, status=404, field=field)


def default_baseline(candidate: PolicyVersion) -> PolicyVersion | None:
    """The production version of the candidate's name, unless that is the candidate."""
    return (
        PolicyVersion.objects.filter(name=candidate.name, stage=ModelStage.PRODUCTION)
        .exclude(pk=candidate.pk)
        .first()
    )


def check_gate_rule(values: Any) -> dict[str, Any]:
    """The stored rule: ``min_comparisons`` (default and least ``CONCORD_GATE_MIN_COMPARISONS``)
    and ``lower_bound_above`` (default and least 0.5); a 400 naming ``gate.<field>`` when bad
    or looser than the house rule (a looser promotion takes a written override instead)."""
    from training.services.policy_gate import DEFAULT_LOWER_BOUND

    values = {} if values is None else values
    if not isinstance(values, dict):
        raise EvaluationRefused("Must be an object.", field="gate")
    problems = [
        {"field": f"gate.{key}", "message": "Unknown field."}
        for key in sorted(set(values) - {"min_comparisons", "lower_bound_above"})
    ]
    # The house rule is a floor: a lead may make an evaluation's rule stricter, never looser,
    # or a rule of one comparison would promote without the override the gate records.
    # Each prompt gives at most one comparison, so a lead's rule may not need more than the
    # prompts an evaluation may have: such a rule could never let the gate allow anything. (The
    # house floor itself stays allowed; the shortfall says when it cannot be met.)
    floor = settings.CONCORD_GATE_MIN_COMPARISONS
    most = max(floor, settings.CONCORD_EVALUATION_MAX_PROMPTS)
    comparisons = values.get("min_comparisons", floor)
    if not _is_int(comparisons) or not floor <= comparisons <= most:
        problems.append(
            {
                "field": "gate.min_comparisons",
                "message": f"Must be an integer from {floor} (CONCORD_GATE_MIN_COMPARISONS) "
                f"to {most} (CONCORD_EVALUATION_MAX_PROMPTS: one comparison a prompt at most).",
            }
        )
    bound = values.get("lower_bound_above", DEFAULT_LOWER_BOUND)
    if (
        isinstance(bound, bool)
        or not isinstance(bound, int | float)
        or not DEFAULT_LOWER_BOUND <= bound < 1
    ):
        problems.append(
            {
                "field": "gate.lower_bound_above",
                "message": f"Must be a number from {DEFAULT_LOWER_BOUND} to below 1.",
            }
        )
    if problems:
        raise EvaluationRefused(problems)
    return {"min_comparisons": int(comparisons), "lower_bound_above": float(bound)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def automatic_reward_model(
    candidate: PolicyVersion, given: ModelVersion | None, actor: AbstractBaseUser | None
) -> ModelVersion | None:
    """The reward model of the first look (see the module note); a named one the actor does
    not lead, or one that no longer scores (archived), is a 400 on ``reward_model``."""
    if given is not None:
        if actor is not None and not models_led_by(actor).filter(pk=given.pk).exists():
            raise EvaluationRefused(
                "No reward model with this id that you lead.", field="reward_model"
            )
        if given.stage not in SCORING_STAGES[EVALUATION]:
            raise EvaluationRefused(
                f"{given.name} v{given.version} is {given.stage}; only a "
                "candidate or production version scores.",
                field="reward_model",
            )
        return given
    production = ModelVersion.objects.filter(
        stage=ModelStage.PRODUCTION, sprints__in=candidate.run.dataset.sprints.all()
    ).distinct()
    if actor is not None:
        production = production.filter(pk__in=models_led_by(actor).values("pk"))
    found = list(production[:2])
    return found[0] if len(found) == 1 else None


def start_evaluation(
    candidate: PolicyVersion,
    *,
    actor: AbstractBaseUser | None,
    rubric: Rubric | None,
    prompts: list[Any] | None = None,
    dataset: DatasetVersion | None = None,
    baseline: PolicyVersion | None = None,
    sampling: dict[str, Any] | None = None,
    seed: int = 0,
    reward_model: ModelVersion | None = None,
    gate: dict[str, Any] | None = None,
    name: str | None = None,
    prompts_file: str = "",
    enqueue: bool = True,
) -> PolicyEvaluation:
    """Store a queued evaluation of ``candidate`` against ``baseline`` and enqueue it (see the
    module note for every check; ``actor=None`` is the operator). Give exactly one of
    ``prompts`` and ``dataset`` (``prompts_file``: the name of the file they were read from,
    recorded in ``prompt_source``). ``enqueue=False`` stores it for the caller to run with
    :func:`execute_evaluation` (the command)."""
    require_policy_lead(candidate, actor, "candidate")
    if baseline is None:
        baseline = default_baseline(candidate)
        if baseline is None:
            why = (
                f"{candidate.label} is the production version itself"
                if candidate.stage == ModelStage.PRODUCTION
                else f"{candidate.name} has no production version to compare with"
            )
            raise EvaluationRefused(f"{why}; name a baseline.", field="baseline")
    if baseline.pk == candidate.pk:
        raise EvaluationRefused("The baseline must be another version.", field="baseline")
    require_policy_lead(baseline, actor, "baseline")
    if rubric is None:
        raise EvaluationRefused("No rubric with this id.", field="rubric")
    problems = [
        {"field": "rubric", "message": f"The rubric is not ready: {problem}."}
        for problem in rubric_problems(rubric)
    ]
    if problems:
        raise EvaluationRefused(problems)
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise EvaluationRefused(f"Must be an integer from 0 to {MAX_SEED}.", field="seed")
    record = validate_sampling(sampling)
    rule = check_gate_rule(gate)
    # Annotators see the sprint's name: the default names no policy (see evaluation_sprint).
    name = (name or "").strip()
    if len(name) > 200:
        raise EvaluationRefused("At most 200 characters.", field="name")
    snapshot, source = _prompts(candidate, actor, prompts, dataset, seed)
    if prompts_file:
        source = {"file": prompts_file[:200], **source}
    scorer = automatic_reward_model(candidate, reward_model, actor)
    with transaction.atomic():
        evaluation = PolicyEvaluation.objects.create(
            candidate=candidate,
            baseline=baseline,
            reward_model=scorer,
            rubric=rubric,
            sprint_name=name or "Blind evaluation",
            prompt_source=source,
            prompts=snapshot,
            sampling=record,
            seed=seed,
            gate=rule,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        record_event(
            actor,
            "policy_evaluation.started",
            evaluation,
            sprint=audit_sprint(candidate.run.dataset),
            changes={
                "candidate": candidate.pk,
                "baseline": baseline.pk,
                "rubric": rubric.pk,
                "prompts": len(snapshot),
                "source": source,
                "sampling": record,
                "seed": seed,
                "reward_model": scorer.pk if scorer else None,
                "gate": rule,
            },
        )
        if not name:
            evaluation.sprint_name = f"Blind evaluation {evaluation.pk}"
            evaluation.save(update_fields=["sprint_name"])
        if enqueue:
            enqueue_on_commit(EVALUATION_JOB, evaluation.pk)
    return evaluation


def _prompts(
    candidate: PolicyVersion,
    actor: AbstractBaseUser | None,
    prompts: list[Any] | None,
    dataset: DatasetVersion | None,
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if (prompts is None) == (dataset is None):
        raise EvaluationRefused(
            "Give either a dataset (its test split) or prompts.",
            field="dataset" if prompts is None else "prompts",
        )
    if dataset is None:
        return given_prompts(prompts), {"given": len(prompts or [])}
    if actor is not None and not datasets_led_by(actor).filter(pk=dataset.pk).exists():
        raise EvaluationRefused("No dataset with this id that you lead.", field="dataset")
    return dataset_prompts(dataset, candidate, seed=seed)


# --- the worker's part ------------------------------------------------------------------------


def execute_evaluation(
    evaluation_id: int, *, on_progress: Callable[[float], None] | None = None
) -> PolicyEvaluation | None:
    """Generate, make the sprint and the first look, and record the outcome (module note).
    Returns the evaluation (done, failed, or cancelled while it ran), or None when it was not
    queued nor stalled (a duplicate message, or one finished or cancelled meanwhile).
    ``on_progress(fraction)`` sees every step (the command's progress bar)."""
    from training.services.evaluation_sprint import (
        automatic_first_look,
        create_evaluation_sprint,
        evaluation_pairs,
    )

    now = timezone.now()
    stalled = Q(status=RunStatus.RUNNING, heartbeat_at__lt=now - stall_after())
    claimed = PolicyEvaluation.objects.filter(
        Q(status=RunStatus.QUEUED) | stalled, pk=evaluation_id
    ).update(status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, progress=0.0, error="")
    if not claimed:
        logger.info("evaluation %s is not queued (nor stalled); nothing to do", evaluation_id)
        return None
    heartbeat = evaluation_heartbeat(evaluation_id).start()
    try:
        evaluation = PolicyEvaluation.objects.select_related(
            "candidate__run__dataset", "baseline", "rubric", "reward_model__run", "created_by"
        ).get(pk=evaluation_id)
        # Checked again before anything is loaded, as a run's base model is: the starter may
        # have lost the lead role of either policy's data since it was queued.
        require_policy_lead(evaluation.candidate, evaluation.created_by, "candidate")
        require_policy_lead(evaluation.baseline, evaluation.created_by, "baseline")
        problems = rubric_problems(evaluation.rubric)
        if problems:
            raise EvaluationRefused(f"The rubric is not ready: {problems[0]}.", field="rubric")
        texts, generation = {}, {}
        for offset, side in ((0.0, "candidate"), (GENERATION_SHARE, "baseline")):
            stop_if_cancelled(evaluation_id)  # before loading a policy: minutes on a large one
            result = generate(
                getattr(evaluation, side),
                evaluation.prompts,
                sampling=evaluation.sampling,
                seed=evaluation.seed,
                on_batch=progress_writer(evaluation_id, offset, on_progress),
            )
            texts[side], generation[side] = result.texts, result.stats
        pairs, identical = evaluation_pairs(
            evaluation.prompts, texts["candidate"], texts["baseline"], seed=evaluation.seed
        )
        generation.update(identical=identical, compared=len(pairs))
        if not pairs:
            raise EvaluationRefused("Both policies gave the same response to every prompt.")
        actor = evaluation.created_by
        try:
            automatic = automatic_first_look(evaluation, pairs, actor=actor)
        except ConcordError as refused:  # the humans' sprint is made all the same
            automatic = {"reward_model": evaluation.reward_model_id, "error": refused.detail}
        with transaction.atomic():
            locked = PolicyEvaluation.objects.select_for_update().get(pk=evaluation_id)
            if locked.status != RunStatus.RUNNING:
                return locked  # failed by the sweep, or finished by another start meanwhile
            sprint = create_evaluation_sprint(evaluation, pairs, actor=actor)
            PolicyEvaluation.objects.filter(pk=evaluation_id).update(
                status=RunStatus.DONE,
                progress=1.0,
                sprint=sprint,
                generation=generation,
                automatic=automatic,
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
            )
            record_event(
                actor,
                "policy_evaluation.done",
                locked,
                sprint=sprint,
                changes={
                    "sprint": sprint.pk,
                    "items": len(pairs),
                    "identical": identical,
                    "automatic": automatic,
                },
            )
        if on_progress is not None:
            on_progress(1.0)
    except EvaluationCancelled:
        logger.info(
            "evaluation %s stopped: it was cancelled (or failed by the sweep)", evaluation_id
        )
    except ConcordError as refused:
        fail_evaluation(evaluation_id, refused.detail)
    except Exception as exc:
        # Whatever went wrong, the evaluation must not stay "running": it fails with the reason.
        logger.exception("evaluation %s failed", evaluation_id)
        fail_evaluation(evaluation_id, f"{type(exc).__name__}: {exc}")
    finally:
        heartbeat.stop()
    return PolicyEvaluation.objects.get(pk=evaluation_id)


def fail_evaluation(evaluation_id: int, reason: str) -> bool:
    """Fail an unfinished evaluation with ``reason`` (also the job sweep's verdict on one whose
    worker was lost twice); False if it had finished."""
    return bool(
        PolicyEvaluation.objects.filter(pk=evaluation_id, status__in=UNFINISHED).update(
            status=RunStatus.FAILED, error=reason[:2000], finished_at=timezone.now()
        )
    )
