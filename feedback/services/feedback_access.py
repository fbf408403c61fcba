"""Who may read a feedback source: its leads, and superusers. Nobody else learns it exists.

Every read door of the feedback app (events, samples, dashboard, erasure) asks here, so the
rule lives once: someone who leads no source at all lacks the role (403); a lead asking for a
source they do not lead is answered as if it did not exist (404), as sprints are.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from annotation.services.errors import ConcordError
from feedback.models import FeedbackSource


def sources_led_by(user: AbstractBaseUser) -> QuerySet[FeedbackSource]:
    """The sources ``user`` leads; all of them for an active superuser; none for anyone else."""
    if not user.is_authenticated or not user.is_active:
        return FeedbackSource.objects.none()
    if user.is_superuser:
        return FeedbackSource.objects.all()
    return FeedbackSource.objects.filter(leads=user)


def require_feedback_lead(user: AbstractBaseUser) -> QuerySet[FeedbackSource]:
    """The sources ``user`` leads; a 403 when there are none (an annotator, a reviewer)."""
    led = sources_led_by(user)
    if not led.exists():
        raise ConcordError("Only the leads of a feedback source may read its feedback.", status=403)
    return led


def may_manage_source(user: AbstractBaseUser, source: FeedbackSource) -> bool:
    """Whether ``user`` leads ``source`` (or is an active superuser)."""
    if not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_superuser) or source.leads.filter(pk=user.pk).exists()


def require_source_lead(user: AbstractBaseUser, source: FeedbackSource) -> None:
    """Pass a lead of ``source``; refuse anyone else as :func:`readable_source` does: 403 for
    someone who leads no source, 404 naming ``source`` for a lead of other sources."""
    if not may_manage_source(user, source):
        require_feedback_lead(user)
        raise ConcordError("No such feedback source.", status=404, field="source")


def readable_source(user: AbstractBaseUser, slug: str) -> FeedbackSource:
    """The source called ``slug`` if ``user`` leads it; 403 for someone who leads no source,
    404 naming ``source`` for a lead of other sources."""
    source = require_feedback_lead(user).filter(slug=slug).first()
    if source is None:
        raise ConcordError("No such feedback source.", status=404, field="source")
    return source
