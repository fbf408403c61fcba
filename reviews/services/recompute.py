"""Consensus on demand: the sprint-wide review a worker runs, run now for a reviewer or lead.

With only the web server running (no worker), consensus labels stay empty and an export of a
fully labelled sprint keeps nothing. :func:`recompute_sprint` is the door the REST API
(``POST /api/v1/sprints/{id}/consensus/recompute``) uses; ``python manage.py review_sprint``
runs the same :func:`reviews.services.disputes.review_sprint` from a shell.
"""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, transaction
from psycopg.errors import LockNotAvailable

from annotation.models import Sprint, SprintRole
from annotation.services.access import role_at_least, sprint_role
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from reviews.services.disputes import review_sprint


def recompute_sprint(actor: AbstractBaseUser, sprint: Sprint) -> dict[str, Any]:
    """Recompute every consensus label of ``sprint`` and apply the dispute rules, as the
    workers do; audit ``consensus.recomputed`` with the counts.

    Guarantees: reviewers and leads of the sprint only (annotators are blind to consensus:
    403; anyone else 404). Idempotent, like the sweep it runs: unchanged labels are not
    rewritten and adjudicated labels are kept. One at a time per sprint: a concurrent call is a
    409 at once (PostgreSQL row lock, NOWAIT). Returns the consensus counts (``items``,
    ``labelled``, ``written``, ``adjudicated``, ``undecided``, ``methods``) and the disputes
    ``opened`` and ``extended``."""
    role = sprint_role(actor, sprint)
    if role is None:
        raise ConcordError("No such sprint.", 404)
    if not role_at_least(role, SprintRole.REVIEWER):
        raise ConcordError("Consensus is for the sprint's reviewers and leads.", 403)
    try:
        with transaction.atomic():
            # One recompute of a sprint at a time: a second caller is told so at once instead of
            # holding another web worker for the same work. FOR NO KEY UPDATE does not block the
            # judgments being submitted meanwhile (their foreign keys take KEY SHARE); an import
            # into the sprint waits for it. SQLite, one writer anyway, takes no row lock.
            Sprint.objects.select_for_update(nowait=True, no_key=True).filter(pk=sprint.pk).exists()
            outcome = review_sprint(sprint)
    except DatabaseError as error:
        if not isinstance(error.__cause__, LockNotAvailable):
            raise
        raise ConcordError(
            "A recompute of this sprint is already running; try again when it has finished.", 409
        ) from None
    counts = {
        **outcome["consensus"],
        "disputes_opened": outcome["opened"],
        "disputes_extended": outcome["extended"],
    }
    record_event(actor, "consensus.recomputed", sprint, sprint=sprint, changes=counts)
    return counts
