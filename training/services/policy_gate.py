"""The promotion gate of policies: whether the humans of an evaluation sprint preferred the
candidate to production clearly enough, and promotion through it.

:func:`gate_verdict` reads the evaluation sprint's consensus battles between the candidate's
and the baseline's responses (``reviews.services.leaderboard.sprint_battles``, ties half),
and computes the candidate's human win rate with a seeded bootstrap 95 % interval over items
(:func:`win_rate_interval`). The rule is the evaluation's own (``evaluation.gate``, stored when
it started; missing keys from settings): at least ``min_comparisons``
(``CONCORD_GATE_MIN_COMPARISONS``, 30) comparisons and the interval's lower bound above
``lower_bound_above`` (0.5). The verdict also carries the counts, the automatic first look as
the evaluation recorded it, both policies' datasets and the leaderboard's ratings of the two.

:func:`promote_policy` moves a policy to production through the gate (see its docstring);
other stage moves are plain.
"""

from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from training.models import (
    ModelStage,
    PolicyEvaluation,
    PolicyVersion,
    RegistryEvent,
    RegistryKind,
    RunStatus,
)
from training.services.stages import StageRefused, change_stage, clean_reason, require_lead

BOOTSTRAP_ROUNDS = 1000
DEFAULT_LOWER_BOUND = 0.5


def gate_rule(evaluation: PolicyEvaluation) -> dict[str, Any]:
    """The evaluation's rule, with what it does not say filled in from settings."""
    stored = evaluation.gate or {}
    return {
        "min_comparisons": int(
            stored.get("min_comparisons", settings.CONCORD_GATE_MIN_COMPARISONS)
        ),
        "lower_bound_above": float(stored.get("lower_bound_above", DEFAULT_LOWER_BOUND)),
    }


def prompt_shortfall(evaluation: PolicyEvaluation) -> str | None:
    """Set when ``evaluation`` holds fewer prompts than its rule's ``min_comparisons``. Each
    prompt gives at most one human comparison (none when both policies answer alike), so such
    an evaluation can never let the gate allow a promotion, only a lead's written override.
    Said when it starts and on every read, so that the lead learns it before paying for the
    generation and the labeling, not from the verdict afterwards."""
    if evaluation.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        return None  # nothing will be promoted from it either way
    needed = gate_rule(evaluation)["min_comparisons"]
    count = len(evaluation.prompts)
    if count >= needed:
        return None
    return (
        f"{count} prompt(s) give at most {count} human comparison(s) and the gate's rule needs "
        f"at least {needed}: promoting from this evaluation will need a written override. "
        "Evaluate on more prompts for the gate to decide."
    )


def win_rate_interval(
    scores: np.ndarray, counts: np.ndarray, *, seed: int, rounds: int = BOOTSTRAP_ROUNDS
) -> tuple[float, float]:
    """The 95 % percentile bootstrap interval of ``sum(scores) / sum(counts)``, resampling
    units (``scores[i]`` the wins of unit i, ties half, over ``counts[i]`` comparisons) with
    replacement, ``rounds`` times, from ``numpy.random.default_rng(seed)``: the same data and
    seed give the same interval."""
    if not len(scores):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(scores), size=(rounds, len(scores)))
    rates = scores[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.percentile(rates, [2.5, 97.5])
    return float(low), float(high)


def human_win_rate(evaluation: PolicyEvaluation) -> dict[str, Any]:
    """The candidate's record against the baseline in the evaluation sprint's consensus
    labels: ``win_rate`` (ties half), ``ci``, ``n`` comparisons, ``items``, ``wins``,
    ``ties``, ``losses`` (rates rounded to 4 decimals; None without comparisons)."""
    from reviews.services.leaderboard import sprint_battles

    candidate, baseline = evaluation.candidate.label, evaluation.baseline.label
    empty = no_comparisons(evaluation)
    if evaluation.sprint_id is None:
        return empty
    battles, labels, _ = sprint_battles([evaluation.sprint], "consensus")
    index = {label: code for code, label in enumerate(labels)}
    if candidate not in index or baseline not in index:
        return empty
    first, second = battles.first, battles.second
    forward = (first == index[candidate]) & (second == index[baseline])
    backward = (first == index[baseline]) & (second == index[candidate])
    keep = forward | backward
    if not keep.any():
        return empty
    outcome = np.where(forward, battles.outcome, 1.0 - battles.outcome)[keep]
    units, unit_codes = np.unique(battles.unit[keep], return_inverse=True)
    scores = np.bincount(unit_codes, weights=outcome, minlength=len(units))
    counts = np.bincount(unit_codes, minlength=len(units)).astype(np.float64)
    low, high = win_rate_interval(scores, counts, seed=evaluation.seed)
    ties = int((outcome == 0.5).sum())
    wins = int((outcome == 1.0).sum())
    return {
        **empty,
        "win_rate": round(float(outcome.mean()), 4),
        "ci": [round(low, 4), round(high, 4)],
        "n": len(outcome),
        "items": len(units),
        "wins": wins,
        "ties": ties,
        "losses": len(outcome) - wins - ties,
    }


def _dataset(policy: PolicyVersion) -> dict[str, Any]:
    dataset = policy.run.dataset
    return {
        "id": dataset.pk,
        "policy": policy.label,
        "format": dataset.format,
        "rows": dataset.rows,
        "sprints": sorted(dataset.sprints.values_list("slug", flat=True)),
        "created_at": dataset.created_at.isoformat() if dataset.created_at else None,
    }


def _ratings(evaluation: PolicyEvaluation) -> dict[str, Any]:
    """The leaderboard's rows of both policies in the evaluation sprint (None: no battle)."""
    from reviews.services.leaderboard import leaderboard

    if evaluation.sprint_id is None:
        return {"candidate": None, "baseline": None}
    rows = {row["model"]: row for row in leaderboard([evaluation.sprint])["models"]}
    keys = ("rating", "ci", "comparisons", "wins", "ties", "losses")

    def pick(label: str):
        row = rows.get(label)
        return {key: row[key] for key in keys} if row else None

    return {"candidate": pick(evaluation.candidate.label),
            "baseline": pick(evaluation.baseline.label)}  # fmt: skip


def gate_verdict(evaluation: PolicyEvaluation) -> dict[str, Any]:
    """Whether the gate allows promoting ``evaluation.candidate`` over its baseline, with the
    evidence: ``{"evaluation", "allowed", "reasons", "human", "automatic", "rule",
    "datasets", "leaderboard", "candidate", "baseline"}``. ``reasons`` says why, allowed or
    not. Read-only and deterministic (the bootstrap is seeded with the evaluation's seed)."""
    candidate, baseline = evaluation.candidate, evaluation.baseline
    rule = gate_rule(evaluation)
    reasons: list[str] = []
    done = evaluation.status == RunStatus.DONE and evaluation.sprint_id is not None
    human = human_win_rate(evaluation) if done else no_comparisons(evaluation)
    if not done:
        reasons.append(f"Evaluation {evaluation.pk} is {evaluation.status}, not done.")
    if baseline.stage != ModelStage.PRODUCTION:
        reasons.append(
            f"Its baseline {baseline.label} is no longer in production: evaluate against the "
            "current production version."
        )
    if done and human["n"] < rule["min_comparisons"]:
        reasons.append(
            f"{human['n']} human comparison(s); the rule needs at least {rule['min_comparisons']}."
        )
    low = human["ci"][0]
    if done and human["n"] and low <= rule["lower_bound_above"]:
        reasons.append(
            f"The human win rate's 95 % interval starts at {low:.3f}, not above "
            f"{rule['lower_bound_above']:g}."
        )
    allowed = not reasons
    if allowed:
        reasons.append(
            f"Win rate {human['win_rate']:.3f} over {human['n']} human comparisons "
            f"({human['wins']} won, {human['ties']} tied, {human['losses']} lost); 95 % interval "
            f"{low:.3f} to {human['ci'][1]:.3f}, above {rule['lower_bound_above']:g}; the rule "
            f"needs at least {rule['min_comparisons']} comparisons."
        )
    return {
        "evaluation": evaluation.pk,
        "sprint": evaluation.sprint_id,
        "allowed": allowed,
        "reasons": reasons,
        "human": human,
        "automatic": evaluation.automatic,
        "rule": rule,
        "datasets": {"candidate": _dataset(candidate), "baseline": _dataset(baseline)},
        "leaderboard": _ratings(evaluation) if done else {"candidate": None, "baseline": None},
        "candidate": {"id": candidate.pk, "label": candidate.label},
        "baseline": {"id": baseline.pk, "label": baseline.label, "stage": baseline.stage},
    }


def no_comparisons(evaluation: PolicyEvaluation) -> dict[str, Any]:
    """A human record with nothing in it yet."""
    return {"win_rate": None, "ci": [None, None], "n": 0, "items": 0, "wins": 0, "ties": 0,
            "losses": 0, "candidate": evaluation.candidate.label,
            "baseline": evaluation.baseline.label}  # fmt: skip


# --- promotion ----------------------------------------------------------------------------------


def current_production(policy: PolicyVersion) -> PolicyVersion | None:
    """The production version of ``policy``'s name other than ``policy`` (None: none)."""
    return (
        PolicyVersion.objects.filter(name=policy.name, stage=ModelStage.PRODUCTION)
        .exclude(pk=policy.pk)
        .first()
    )


def is_first_production(policy: PolicyVersion) -> bool:
    """Whether no version of ``policy``'s name has ever been promoted to production: the one
    promotion the gate lets through without an evaluation. A name whose production version was
    archived or demoted is not new again (else archiving production would open the gate)."""
    return not RegistryEvent.objects.filter(
        registry=RegistryKind.POLICY, event="promoted", name=policy.name
    ).exists()


def latest_evaluation(policy: PolicyVersion, baseline: PolicyVersion) -> PolicyEvaluation | None:
    """The newest done evaluation of ``policy`` against ``baseline``."""
    return (
        PolicyEvaluation.objects.filter(candidate=policy, baseline=baseline, status=RunStatus.DONE)
        .order_by("-created_at", "-pk")
        .first()
    )


def promote_policy(
    policy: PolicyVersion,
    *,
    actor: AbstractBaseUser | None,
    stage: ModelStage | str = ModelStage.PRODUCTION,
    evaluation: PolicyEvaluation | None = None,
    override_reason: str = "",
) -> PolicyVersion:
    """Move ``policy`` to ``stage`` for a lead of its dataset (403/404 otherwise).

    To production: when no version of the name has ever held production
    (:func:`is_first_production`), no evaluation is needed (evidence
    ``{"first_production": true}``). Otherwise the gate decides on the newest done evaluation
    of ``policy`` against the current production version; a given ``evaluation`` must be of
    this policy (400 naming ``evaluation``) and is refused by the gate when it is not that
    newest one, so an older evaluation that went the lead's way cannot outvote a newer one.
    When the gate refuses, when there is no evaluation, or when the name has no production
    version now to compare with, an ``override_reason`` promotes anyway, as an override
    (RegistryEvent ``override`` true, the reason and verdict kept, audited); without one, 409
    with the verdict's reasons and nothing changed. The verdict is the promotion event's
    evidence. Other stages are plain moves. Idempotent for a policy already in ``stage``."""
    require_lead(policy, actor)
    stage = ModelStage(stage)
    reason = clean_reason(override_reason, required=False, field="override_reason")
    if evaluation is not None and evaluation.candidate_id != policy.pk:
        raise StageRefused(
            f"Evaluation {evaluation.pk} is not an evaluation of {policy.label}.",
            status=400,
            field="evaluation",
        )
    if stage != ModelStage.PRODUCTION or policy.stage == stage:
        return change_stage(policy, stage, actor=actor, reason=reason)
    current = current_production(policy)
    if current is None and is_first_production(policy):
        evidence = {"first_production": True}
        if evaluation is not None:
            evidence["verdict"] = gate_verdict(evaluation)
        return change_stage(policy, stage, actor=actor, reason=reason, evidence=evidence,
                            expect_production=True)  # fmt: skip
    verdict = _verdict_against(policy, current, evaluation)
    if not verdict["allowed"] and not reason:
        raise StageRefused(
            [{"message": text} for text in verdict["reasons"]]
            + [{"field": "override_reason",
                "message": "The gate refuses; a lead may override with a written reason."}],
            detail="The gate refuses promotion: " + " ".join(verdict["reasons"]),
        )  # fmt: skip
    return change_stage(
        policy, stage, actor=actor, reason=reason, override=not verdict["allowed"],
        evidence=verdict, expect_production=True,
        production_id=current.pk if current is not None else None,
    )  # fmt: skip


def _verdict_against(
    policy: PolicyVersion, current: PolicyVersion | None, evaluation: PolicyEvaluation | None
) -> dict[str, Any]:
    """The gate's verdict on promoting ``policy`` over ``current`` (None: the name had a
    production version, but none holds it now, so there is nothing to compare with)."""
    if current is None:
        return {
            "evaluation": evaluation.pk if evaluation is not None else None,
            "allowed": False,
            "reasons": [
                f"No version of {policy.name} is in production now, but one was before: the "
                "gate has no production version to compare with."
            ],
        }
    newest = latest_evaluation(policy, current)
    evaluation = evaluation or newest
    if evaluation is None:
        return {
            "evaluation": None,
            "allowed": False,
            "reasons": [
                f"No done evaluation of {policy.label} against production {current.label}."
            ],
        }
    verdict = gate_verdict(evaluation)
    if evaluation.baseline_id != current.pk and verdict["allowed"]:
        verdict["allowed"] = False
        verdict["reasons"] = [
            f"Evaluation {evaluation.pk} compared {policy.label} with "
            f"{evaluation.baseline.label}, not with production {current.label}."
        ]
    elif newest is not None and newest.pk != evaluation.pk and verdict["allowed"]:
        # The gate reads the newest evidence: an older evaluation that allowed must not outvote
        # a newer one of the same two versions (a lead picking the run that went their way).
        verdict["allowed"] = False
        verdict["reasons"] = [
            f"Evaluation {newest.pk} of {policy.label} against {current.label} is newer than "
            f"evaluation {evaluation.pk}; the gate reads the newest one."
        ]
    return verdict
