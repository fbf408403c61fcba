"""Login lock-outs: who may see and clear them, and what a locked-out login is told.

django-axes counts failed logins per username and address on every door (login page, admin
login, API token) and refuses the username from that address once it reaches
``CONCORD_LOGIN_FAILURE_LIMIT``, until ``CONCORD_LOGIN_COOLOFF_MINUTES`` pass without another
try. Clearing a lock-out deletes axes' attempt rows for the username. A superuser clears any
lock-out; a lead clears those of the people in sprints they lead, superusers excepted (a lead
must not be able to reopen brute force against an administrator's account).
"""

from axes.models import AccessAttempt
from axes.utils import reset as reset_attempts
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from annotation.models import SprintMember
from annotation.services.access import sprints_led_by
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError


class LockoutClearRefused(ConcordError):
    status = 404
    default_detail = "No such lock-out."


def lockout_message() -> str:
    """The one sentence every door answers a locked-out login with."""
    return (
        "Too many failed logins for this account from your address. Try again in "
        f"{settings.CONCORD_LOGIN_COOLOFF_MINUTES} minutes, or ask your sprint lead or an "
        "administrator to clear the lock-out."
    )


def lockout_retry_after() -> int:
    """Seconds until a locked-out login may try again, for ``Retry-After``: the whole cool-off,
    since every refused try starts it again."""
    return settings.CONCORD_LOGIN_COOLOFF_MINUTES * 60


def usernames_managed_by(user: AbstractBaseUser) -> QuerySet:
    """Usernames of the people whose lock-outs ``user`` may clear: members of sprints the user
    leads who are not superusers (everyone's, for a superuser)."""
    User = get_user_model()
    if user.is_active and user.is_superuser:
        return User.objects.values("username")
    members = SprintMember.objects.filter(sprint__in=sprints_led_by(user)).values("user_id")
    return User.objects.filter(pk__in=members, is_superuser=False).values("username")


def attempts_visible_to(user: AbstractBaseUser) -> QuerySet[AccessAttempt]:
    """Failed-login records the user may see: every one for a superuser, those of the people
    they manage for a lead, none for anyone else."""
    if user.is_active and user.is_superuser:
        return AccessAttempt.objects.all()
    return AccessAttempt.objects.filter(username__in=usernames_managed_by(user))


def clear_lockout(actor: AbstractBaseUser, username: str) -> int:
    """Forget every failed login recorded for ``username`` (from any address), so the person
    may log in at once. Returns how many records were removed.

    Refuses (404, the same answer as for a username that does not exist) unless ``actor`` is a
    superuser or leads a sprint the person is a member of. Audited on the person's account.
    """
    person = get_user_model().objects.filter(username=username).first()
    allowed = usernames_managed_by(actor).filter(username=username).exists()
    if person is None or not allowed:
        raise LockoutClearRefused(
            "You can clear lock-outs only of people in sprints you lead.", field="username"
        )
    with transaction.atomic():
        removed = reset_attempts(username=username)
        record_event(actor, "login.lockout_cleared", person, changes={"records": removed})
    return removed
