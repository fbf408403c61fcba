"""What an evaluation makes of its generated responses: the blind pairwise sprint, and the
reward model's automatic first look at the same pairs.

The sprint (:func:`create_evaluation_sprint`) is active under the evaluation's rubric, with a
name and description that name no policy (annotators see both; the default name is ``Blind
evaluation <id>``), overlap ``CONCORD_EVALUATION_OVERLAP``, slug
``blind-eval-<evaluation id>`` (annotators see it in their sprint list and URLs, so it names no
policy either), the annotators and
reviewers of the candidate dataset's sprints as members (a person in several keeps the higher
role) and the person who started the evaluation as its lead. Its items are written by the
annotation import service, the one door for items: external id ``eval-<evaluation id>-<n>``
(n the prompt's index), the prompt and its context documents, metadata ``{"evaluation": id}``,
and two responses keyed ``a`` and ``b`` whose order is shuffled per item by the evaluation's
seed. Each response carries its policy's name as ``model_name`` and ``v<N>`` as
``model_version`` (the leaderboard and the gate read ``name@v<N>``, the policy's label);
annotators are never shown either (the labeling API and page show responses by key and
position only).

A prompt both policies answered with the same text is left out of the sprint (nothing to
compare; the import refuses two equal responses) and counted in the evaluation's
``generation["identical"]``; an empty answer is shown as :data:`EMPTY_RESPONSE` so the
annotators can judge it.

The automatic first look (:func:`automatic_first_look`) scores both responses of every item
of the sprint with the evaluation's reward model through
:func:`~training.services.scoring.score_items` (purpose ``evaluation``, as the person who
started it), and gives the candidate's win rate (ties half) with a seeded 95 % bootstrap
interval over prompts (the gate's own :func:`~training.services.policy_gate.win_rate_interval`).
"""

import io
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from annotation.models import Sprint, SprintMember, SprintRole, SprintStatus
from annotation.services.audit import record_event, snapshot
from annotation.services.imports.service import import_items
from annotation.services.sprint_setup import MEMBER_FIELDS
from training.models import PolicyEvaluation, PolicyVersion
from training.services.scoring import EVALUATION, score_items

EMPTY_RESPONSE = "(no response)"
# A higher role wins when a person is in several of the dataset's sprints.
COPIED_ROLES = {SprintRole.ANNOTATOR: 0, SprintRole.REVIEWER: 1}


@dataclass(frozen=True)
class EvaluationPair:
    """One prompt's two answers, in the order the sprint shows them."""

    index: int
    prompt: Any
    context: list[dict[str, Any]]
    candidate: str
    baseline: str
    candidate_first: bool


def evaluation_pairs(
    prompts: list[dict[str, Any]], candidate: list[str], baseline: list[str], *, seed: int
) -> tuple[list[EvaluationPair], int]:
    """The pairs the sprint gets, their order shuffled by ``seed``, and how many prompts were
    left out because both policies gave the same text."""
    rng = random.Random(seed)
    pairs, identical = [], 0
    for index, (prompt, mine, theirs) in enumerate(zip(prompts, candidate, baseline, strict=True)):
        candidate_first = rng.random() < 0.5  # drawn for every prompt: positions stay seeded
        mine, theirs = _shown(mine), _shown(theirs)
        if mine == theirs:
            identical += 1
            continue
        pairs.append(
            EvaluationPair(
                index, prompt["prompt"], prompt.get("context") or [], mine, theirs, candidate_first
            )
        )
    return pairs, identical


def _shown(text: str) -> str:
    text = text.replace("\x00", "").strip()
    return text or EMPTY_RESPONSE


def sprint_slug(evaluation: PolicyEvaluation) -> str:
    """``blind-eval-<evaluation id>``: no policy's name or version, which annotators would read
    in their sprint list and the labeling page's address."""
    return f"blind-eval-{evaluation.pk}"


def _item_row(evaluation: PolicyEvaluation, pair: EvaluationPair) -> dict[str, Any]:
    sides = [(evaluation.candidate, pair.candidate), (evaluation.baseline, pair.baseline)]
    if not pair.candidate_first:
        sides.reverse()
    return {
        "external_id": f"eval-{evaluation.pk}-{pair.index}",
        "prompt": pair.prompt,
        "context": pair.context,
        "metadata": {"evaluation": evaluation.pk},
        "responses": [
            {"id": key, "text": text, "model": policy.name, "model_version": f"v{policy.version}"}
            for key, (policy, text) in zip("ab", sides, strict=True)
        ],
    }


def create_evaluation_sprint(
    evaluation: PolicyEvaluation, pairs: list[EvaluationPair], *, actor: AbstractBaseUser | None
) -> Sprint:
    """Create the evaluation's sprint, its members and its items (module note) in one
    transaction, nested in the caller's: all of it or nothing. The import service refuses
    (``ImportRejected``) anything it would refuse in a file."""
    dataset = evaluation.candidate.run.dataset
    with transaction.atomic():
        sprint = Sprint.objects.create(
            name=evaluation.sprint_name[:200],
            slug=sprint_slug(evaluation),
            # Shown to annotators: it names no policy (the evaluation itself says which two).
            description=(
                "Two answers to each question, in random order: which is better? "
                f"(Evaluation {evaluation.pk}.)"
            ),
            rubric=evaluation.rubric,
            overlap_k=settings.CONCORD_EVALUATION_OVERLAP,
            status=SprintStatus.ACTIVE,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        members: dict[int, SprintMember] = {}
        for member in SprintMember.objects.filter(
            sprint__in=dataset.sprints.all(), role__in=list(COPIED_ROLES)
        ).order_by("pk"):
            kept = members.get(member.user_id)
            if kept is None or COPIED_ROLES[member.role] > COPIED_ROLES[kept.role]:
                members[member.user_id] = SprintMember(
                    sprint=sprint,
                    user_id=member.user_id,
                    role=member.role,
                    pseudonym=member.pseudonym,
                )
        if actor is not None and actor.is_authenticated:
            members[actor.pk] = SprintMember(sprint=sprint, user=actor, role=SprintRole.LEAD)
        for member in members.values():
            # Audited one by one, as the sprint setup service audits a member it adds.
            member.save()
            record_event(actor, "member.added", member, sprint=sprint,
                         changes=snapshot(member, MEMBER_FIELDS))  # fmt: skip
        record_event(
            actor,
            "sprint.created",
            sprint,
            sprint=sprint,
            changes={
                "evaluation": evaluation.pk,
                "slug": sprint.slug,
                "items": len(pairs),
                "members": len(members),
            },
        )
        lines = b"".join(orjson.dumps(_item_row(evaluation, pair)) + b"\n" for pair in pairs)
        import_items(
            sprint,
            io.BytesIO(lines),
            filename=f"evaluation-{evaluation.pk}.jsonl",
            file_format="jsonl",
            actor=actor,
        )
    return sprint


def automatic_first_look(
    evaluation: PolicyEvaluation, pairs: list[EvaluationPair], *, actor: AbstractBaseUser | None
) -> dict[str, Any] | None:
    """The reward model's record of the candidate on ``pairs`` (module note), or None when
    the evaluation has no reward model or no pairs. Raises what
    :func:`~training.services.scoring.score_items` raises (a refusal, missing artifacts)."""
    from training.services.policy_gate import win_rate_interval

    model = evaluation.reward_model
    if model is None or not pairs:
        return None
    items = [
        {
            "prompt": pair.prompt,
            "context": pair.context,
            "responses": [pair.candidate, pair.baseline],
        }
        for pair in pairs
    ]
    scores = score_items(model, items, purpose=EVALUATION, actor=actor)
    outcome = np.array([1.0 if c > b else 0.0 if c < b else 0.5 for c, b in scores])
    low, high = win_rate_interval(outcome, np.ones(len(outcome)), seed=evaluation.seed)
    wins, ties = int((outcome == 1.0).sum()), int((outcome == 0.5).sum())
    return {
        "reward_model": model.pk,
        "label": f"{model.name} v{model.version}",
        "win_rate": round(float(outcome.mean()), 4),
        "ci": [round(low, 4), round(high, 4)],
        "n": len(outcome),
        "wins": wins,
        "ties": ties,
        "losses": len(outcome) - wins - ties,
    }


def policy_label(policy: PolicyVersion) -> dict[str, Any]:
    """How the API and the admin name a policy of an evaluation."""
    return {"id": policy.pk, "label": policy.label, "stage": policy.stage}
