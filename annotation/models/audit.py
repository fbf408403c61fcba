from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, when, with the change. Append-only: written through
    :func:`annotation.services.audit.record_event`, read-only in the admin, and a trigger refuses
    UPDATE on the table."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    sprint = models.ForeignKey(
        "annotation.Sprint", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M}"
        return f"{when} {self.actor} {self.action} {self.object_type}:{self.object_id}"
