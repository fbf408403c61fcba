"""People and their accounts, as leads manage them: who a lead may see, adding and inviting
members, accepting an invitation, and revoking API tokens.

The rule: a lead sees and manages only the people in sprints they lead (a superuser, everyone).
A lead adds an existing person to a sprint only when that person is already in a sprint the
lead leads; anyone else joins by invitation, which creates a new account that has no password
until its owner opens the one-time link and chooses one. Nobody but the owner of an account
(and a superuser) ever sets its password. Every function here checks the caller's role itself,
so the admin, a command or an API view get the same answer.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation.models import Invitation, Sprint, SprintMember, SprintRole
from annotation.services.access import has_sprint_role, sprints_led_by
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError

User = get_user_model()


class InvitationRefused(ConcordError):
    """An invitation link that cannot be used: unknown, used already, or expired."""

    status = 410
    default_detail = "This invitation link cannot be used."


@dataclass(frozen=True)
class IssuedInvitation:
    """What :func:`invite_member` made. ``token`` exists only here: the database keeps its
    hash, so the link built from it must be shown (or sent) now or never."""

    invitation: Invitation
    membership: SprintMember
    token: str

    @property
    def user(self) -> AbstractBaseUser:
        return self.invitation.user

    @property
    def expires_at(self) -> datetime:
        return self.invitation.expires_at


def people_led_by(lead: AbstractBaseUser) -> QuerySet:
    """The accounts a lead may see and manage: members (any role) of the sprints they lead,
    themselves included. Every account for a superuser; none for anyone inactive."""
    if not lead.is_authenticated or not lead.is_active:
        return User.objects.none()
    if lead.is_superuser:
        return User.objects.all()
    members = SprintMember.objects.filter(sprint__in=sprints_led_by(lead).values("pk"))
    return User.objects.filter(pk__in=members.values("user"))


def person_led_by(lead: AbstractBaseUser, user_id: int) -> AbstractBaseUser:
    """One of :func:`people_led_by` ``lead``, by id; 404 on ``user`` for anyone else, the
    answer for a person the lead may not know exists."""
    person = people_led_by(lead).filter(pk=user_id).first()
    if person is None:
        raise ConcordError(
            "No such person among the members of your sprints; invite them instead.",
            404,
            field="user",
        )
    return person


def _require_lead(actor: AbstractBaseUser, sprint: Sprint) -> None:
    if not has_sprint_role(actor, sprint, SprintRole.LEAD):
        raise ConcordError("Only a lead of this sprint may manage its members.", 403)


def _role(role: str) -> SprintRole:
    if role not in SprintRole.values:
        choices = ", ".join(SprintRole.values)
        raise ConcordError(f"Choose one of: {choices}.", field="role")
    return SprintRole(role)


@transaction.atomic
def add_member(
    actor: AbstractBaseUser,
    sprint: Sprint,
    user: AbstractBaseUser,
    *,
    role: str = SprintRole.ANNOTATOR,
    pseudonym: str = "",
) -> SprintMember:
    """Add an existing person to a sprint the actor leads, and audit it (``member.added``).

    Guarantees: the actor leads ``sprint`` (403 otherwise) and ``user`` is one of
    :func:`people_led_by` the actor (404 otherwise, the answer for a person the actor may not
    know exists); a person already in the sprint is a 409 and nothing changes.
    """
    _require_lead(actor, sprint)
    role = _role(role)
    person_led_by(actor, user.pk)
    if SprintMember.objects.filter(sprint=sprint, user=user).exists():
        raise ConcordError(f"{user} is already a member of {sprint}.", 409, field="user")
    member = SprintMember.objects.create(sprint=sprint, user=user, role=role, pseudonym=pseudonym)
    changes = {"user": user.pk, "role": member.role, "pseudonym": member.pseudonym}
    record_event(actor, "member.added", member, sprint=sprint, changes=changes)
    return member


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _is_pending(user: AbstractBaseUser) -> bool:
    """An invited account nobody has claimed yet: no password, never logged in, and an
    invitation that was never accepted."""
    return (
        not user.is_staff
        and not user.is_superuser
        and not user.has_usable_password()
        and user.last_login is None
        and Invitation.objects.filter(user=user, accepted_at__isnull=True).exists()
        and not Invitation.objects.filter(user=user, accepted_at__isnull=False).exists()
    )


def _check_new_account(username: str, email: str) -> None:
    problems = []
    try:
        User.username_validator(username)
        if not username or len(username) > User._meta.get_field("username").max_length:
            raise ValidationError("A username of 1 to 150 characters is needed.")
    except ValidationError as exc:
        problems.append({"field": "username", "message": " ".join(exc.messages)})
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            problems.append({"field": "email", "message": " ".join(exc.messages)})
    if problems:
        raise ConcordError(problems)


@transaction.atomic
def invite_member(
    actor: AbstractBaseUser,
    sprint: Sprint,
    *,
    username: str,
    email: str = "",
    role: str = SprintRole.ANNOTATOR,
) -> IssuedInvitation:
    """Invite a new person into a sprint the actor leads.

    Creates the account (inactive, without a usable password, never staff), the membership
    and an :class:`Invitation` that expires after ``settings.CONCORD_INVITATION_HOURS``, and
    audits ``member.invited`` (without the token). Returns the token once; only its SHA-256
    is stored.

    An existing username is refused (409, one message whether or not the actor may see the
    account), except an account that is still pending an invitation and is visible to the
    actor: then its earlier links stop working and a fresh one is issued, so a lead can
    replace an expired link. An existing, claimed account is never re-invited: that would let
    whoever holds the link set its password. Existing people are added with
    :func:`add_member`.
    """
    _require_lead(actor, sprint)
    role = _role(role)
    # Normalised as create_user will store it, so a look-alike (full-width) spelling of a
    # taken name is found taken here rather than failing on the unique index.
    username, email = User.normalize_username(username.strip()), email.strip()
    _check_new_account(username, email)
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        user = User.objects.create_user(
            username=username, email=email, password=None, is_active=False
        )
    elif _is_pending(user) and people_led_by(actor).filter(pk=user.pk).exists():
        Invitation.objects.filter(user=user, accepted_at__isnull=True).delete()
    else:
        raise ConcordError(
            f"The username {username} is taken. To add someone who already has an account, "
            "pick them in the sprint's member list (people in your sprints), or ask an "
            "administrator.",
            409,
            field="username",
        )
    member, _ = SprintMember.objects.get_or_create(
        sprint=sprint, user=user, defaults={"role": role}
    )
    if member.role != role:
        member.role = role
        member.save(update_fields=["role"])
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        user=user,
        sprint=sprint,
        role=role,
        token_sha256=_token_hash(token),
        invited_by=actor if actor.is_authenticated else None,
        expires_at=timezone.now() + timedelta(hours=settings.CONCORD_INVITATION_HOURS),
    )
    changes = {
        "user": user.pk,
        "username": user.username,
        "email": user.email,
        "role": role,
        "expires_at": invitation.expires_at.isoformat(),
    }
    record_event(actor, "member.invited", member, sprint=sprint, changes=changes)
    return IssuedInvitation(invitation=invitation, membership=member, token=token)


def open_invitation(token: str, *, now: datetime | None = None, lock: bool = False) -> Invitation:
    """The invitation a link's token belongs to, if it can still be accepted.

    Raises :class:`InvitationRefused` (410) for an unknown token, one already used, one past
    its expiry, or one whose membership the lead has since removed, each with its own message.
    Changes nothing; ``lock`` holds the row until the caller's transaction ends.
    """
    now = now or timezone.now()
    rows = Invitation.objects.select_related("user", "sprint")
    if lock:
        rows = rows.select_for_update(of=("self",))
    invitation = rows.filter(token_sha256=_token_hash(token)).first()
    if invitation is None:
        raise InvitationRefused(
            "This invitation link is not valid. It may have been replaced by a newer one; "
            "ask the lead who invited you for a new link."
        )
    if invitation.accepted_at is not None:
        raise InvitationRefused(
            "This invitation link was used already. Log in with the password you chose."
        )
    if invitation.expires_at <= now:
        raise InvitationRefused(
            "This invitation link has expired. Ask the lead who invited you for a new link."
        )
    if not SprintMember.objects.filter(sprint=invitation.sprint, user=invitation.user).exists():
        # The lead removed the membership before the link was used: that withdraws it.
        raise InvitationRefused("This invitation was withdrawn by the lead who sent it.")
    return invitation


@transaction.atomic
def accept_invitation(
    token: str, password: str, *, now: datetime | None = None
) -> AbstractBaseUser:
    """Set the invited person's password, activate the account and use up the invitation.

    Guarantees: the link works once (the invitation row is locked, so two submissions race to
    one success and one 410); the password passes ``AUTH_PASSWORD_VALIDATORS`` (400 naming
    ``new_password1`` otherwise, nothing stored); audits ``invitation.accepted``.
    """
    invitation = open_invitation(token, now=now, lock=True)
    user = invitation.user
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ConcordError(" ".join(exc.messages), field="new_password1") from exc
    user.set_password(password)
    user.is_active = True
    user.save()
    invitation.accepted_at = now or timezone.now()
    invitation.save(update_fields=["accepted_at"])
    record_event(user, "invitation.accepted", invitation, sprint=invitation.sprint)
    return user


def revoke_user_tokens(user: AbstractBaseUser, *, reason: str) -> int:
    """Delete every API token of ``user`` and audit ``tokens.revoked`` with the reason when
    there was one. Returns how many were deleted. Idempotent; runs in the caller's
    transaction, so a change that rolls back keeps the tokens."""
    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
    if deleted:
        record_event(None, "tokens.revoked", user, changes={"reason": reason, "tokens": deleted})
    return deleted
