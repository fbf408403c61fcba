from django.conf import settings
from django.db import models


class AssignmentStatus(models.TextChoices):
    LEASED = "leased", "Leased"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    RELEASED = "released", "Released"


class Assignment(models.Model):
    """An (item, annotator) pair with a lease. The pair is unique, so no annotator is handed an
    item twice; an expired lease may be renewed for the same annotator or released."""

    sprint = models.ForeignKey("annotation.Sprint", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(
        "annotation.Item", on_delete=models.PROTECT, related_name="assignments"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(
        max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.LEASED
    )
    leased_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    skip_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], name="assignment_item_annotator_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["leased", "submitted", "skipped", "released"]),
                name="assignment_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(lease_expires_at__gte=models.F("leased_at")),
                name="assignment_lease_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["sprint", "annotator", "status"], name="assignment_queue"),
            models.Index(fields=["status", "lease_expires_at"], name="assignment_lease_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.item} → {self.annotator} ({self.status})"


class Judgment(models.Model):
    """An annotator's answers to an item, append-only.

    A revision is a new row whose ``supersedes`` points at the judgment it replaces. The
    database keeps the chain single: one original per (item, annotator) and each judgment
    superseded at most once, so there is exactly one live judgment per pair. A trigger refuses
    UPDATE on this table.
    """

    sprint = models.ForeignKey("annotation.Sprint", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("annotation.Item", on_delete=models.PROTECT, related_name="judgments")
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="judgments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgments"
    )
    rubric = models.ForeignKey("annotation.Rubric", on_delete=models.PROTECT, related_name="+")
    answers = models.JSONField()
    seconds = models.FloatField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200)
    request_sha256 = models.CharField(max_length=64, blank=True, default="")
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The answers coded for the agreement report when the judgment is written
    # (annotation.services.agreement_codes); None for judgments stored before, read as JSON.
    agreement_codes = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["item", "annotator", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"],
                condition=models.Q(supersedes__isnull=True),
                name="judgment_one_original_per_annotator_item",
            ),
            models.UniqueConstraint(
                fields=["annotator", "idempotency_key"], name="judgment_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(seconds__isnull=True) | models.Q(seconds__gte=0),
                name="judgment_seconds_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["sprint", "item"], name="judgment_sprint_item")]

    def __str__(self) -> str:
        return f"judgment {self.pk} of {self.item} by {self.annotator}"


class ItemFlag(models.Model):
    """An annotator's report that an item is broken, unsafe or unanswerable, with a reason.

    Kept apart from judgments: flagging neither answers nor ends the assignment, and a flag
    opens a dispute for reviewers (reviews.services.disputes). One flag per annotator and item;
    flagging again changes nothing."""

    sprint = models.ForeignKey("annotation.Sprint", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("annotation.Item", on_delete=models.PROTECT, related_name="flags")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="item_flags"
    )
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator"], name="item_flag_unique"),
        ]

    def __str__(self) -> str:
        return f"flag on {self.item} by {self.annotator}"
