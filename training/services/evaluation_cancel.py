"""Cancelling a policy evaluation, and how its worker learns of it.

:func:`cancel_evaluation` moves a queued or running evaluation to ``cancelled`` at once: a queued
one is never claimed (the worker only claims ``queued`` rows, and the job finds nothing to do),
and a running one is stopped by its worker at its next progress write (a batch's progress is
written at most every ``CONCORD_TRAINING_POLL_SECONDS``; loading a policy writes none, so a
cancel during a load is noticed after the first batch) or before it loads the second side
(:func:`.evaluation_heartbeat.stop_if_cancelled`); one during the automatic first look is
seen at the final locked check, which then makes no sprint. Every later write of a
running evaluation (progress, heartbeat, ``done``, ``failed``) is conditioned on the row still
being ``running``, so a worker that has not noticed yet can neither finish nor fail a
cancelled evaluation, and no blind sprint is made for it.

Only a lead of the candidate's dataset may cancel (the same rule as starting one: 403 for a
member of its sprints, 404 for anyone else), checked here rather than in a view.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.services.audit import record_event
from training.models import PolicyEvaluation, RunStatus
from training.services.evaluations import UNFINISHED, EvaluationRefused, require_policy_lead
from training.services.runs import audit_sprint


class EvaluationFinished(EvaluationRefused):
    """The evaluation has already finished: done, failed or cancelled before."""


def cancel_evaluation(
    evaluation: PolicyEvaluation, *, actor: AbstractBaseUser | None
) -> PolicyEvaluation:
    """Cancel ``evaluation`` if it is queued or running (``actor=None``: the operator), audited
    as ``policy_evaluation.cancelled``. Raises :class:`EvaluationFinished` (409) when it has
    already finished, so that a second cancel says so instead of changing nothing silently."""
    require_policy_lead(evaluation.candidate, actor, "evaluation", missing="No such evaluation.")
    with transaction.atomic():
        was = PolicyEvaluation.objects.filter(pk=evaluation.pk).values("status", "progress").first()
        stopped = PolicyEvaluation.objects.filter(pk=evaluation.pk, status__in=UNFINISHED).update(
            status=RunStatus.CANCELLED, finished_at=timezone.now()
        )
        evaluation.refresh_from_db()
        if not stopped:
            raise EvaluationFinished(
                f"Evaluation {evaluation.pk} has already finished ({evaluation.status}).",
                status=409,
            )
        record_event(
            actor,
            "policy_evaluation.cancelled",
            evaluation,
            sprint=audit_sprint(evaluation.candidate.run.dataset),
            changes={
                "status": RunStatus.CANCELLED,
                "was": was["status"],
                "progress": was["progress"],
            },
        )
    return evaluation
