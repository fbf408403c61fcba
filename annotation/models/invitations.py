from django.conf import settings
from django.db import models

from annotation.models.sprints import SprintRole


class Invitation(models.Model):
    """A one-time link that lets an invited person choose their password and join a sprint.

    Only the SHA-256 of the link's token is stored: whoever reads the table (a backup, a lead
    in the admin) cannot use a pending invitation. Written and consumed by
    :mod:`annotation.services.accounts`; ``accepted_at`` is set once and the row then refuses
    a second use.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    sprint = models.ForeignKey(
        "annotation.Sprint", on_delete=models.CASCADE, related_name="invitations"
    )
    role = models.CharField(max_length=10, choices=SprintRole.choices)
    token_sha256 = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation of {self.user} to {self.sprint}"
