"""API tokens die with the credentials or the membership that earned them.

A DRF token is a password that never expires, so it is revoked (every token of the person,
through :func:`annotation.services.accounts.revoke_user_tokens`) when:

- the password changes by any path: the admin's password form, the password-change page,
  ``set_password`` + ``save``, ``set_unusable_password``, an accepted invitation. Django
  re-hashing an unchanged password at login (a hasher upgrade saves ``password`` alone, with
  no new raw password) is not a change and keeps the tokens;
- the account is deactivated (``is_active`` goes from true to false);
- the person's last sprint membership is deleted. A superuser's access does not come from
  memberships, so theirs survive that one.

Receivers run inside the save or delete, in its transaction. ``QuerySet.update`` sends no
signals; code that deactivates accounts in bulk must call the service itself.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_save

from annotation.models import SprintMember
from annotation.services.accounts import revoke_user_tokens

_REVOKE_REASON = "_concord_token_revoke_reason"


def _revoke_reason(user, update_fields) -> str | None:
    if user.pk is None or user._state.adding:
        return None
    watched = {"password", "is_active"}
    if update_fields is not None and not watched & set(update_fields):
        return None
    before = type(user)._base_manager.filter(pk=user.pk).values("password", "is_active").first()
    if before is None:
        return None
    if before["is_active"] and not user.is_active:
        return "deactivated"
    if before["password"] != user.password:
        # ``_password`` holds the raw password between ``set_password`` and ``save``; a
        # hasher upgrade at login sets it back to None before saving ``password`` alone.
        rehash = getattr(user, "_password", None) is None and set(update_fields or ()) == {
            "password"
        }
        if not rehash:
            return "password changed"
    return None


def note_credential_change(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    if raw:
        return
    setattr(instance, _REVOKE_REASON, _revoke_reason(instance, update_fields))


def revoke_after_credential_change(sender, instance, raw=False, **kwargs) -> None:
    reason = instance.__dict__.pop(_REVOKE_REASON, None)
    if reason and not raw:
        revoke_user_tokens(instance, reason=reason)


def revoke_after_last_membership(sender, instance: SprintMember, **kwargs) -> None:
    user = get_user_model()._base_manager.filter(pk=instance.user_id).first()
    if user is None or user.is_superuser:
        return
    if not SprintMember.objects.filter(user_id=user.pk).exists():
        revoke_user_tokens(user, reason="removed from the last sprint")


def connect() -> None:
    """Called once from :meth:`annotation.apps.AnnotationConfig.ready`."""
    user_model = get_user_model()
    pre_save.connect(note_credential_change, sender=user_model, dispatch_uid="concord-creds-pre")
    post_save.connect(
        revoke_after_credential_change, sender=user_model, dispatch_uid="concord-creds-post"
    )
    post_delete.connect(
        revoke_after_last_membership, sender=SprintMember, dispatch_uid="concord-member-gone"
    )
