from django.conf import settings
from django.db import models


class SampleStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class FeedbackSample(models.Model):
    """A stratified draw of feedback events into a sprint's items, run as a background job.
    ``report``: how many were drawn per stratum and why others were skipped."""

    sprint = models.ForeignKey(
        "annotation.Sprint", on_delete=models.CASCADE, related_name="feedback_samples"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    filters = models.JSONField(default=dict, blank=True)
    n = models.PositiveIntegerField()
    strata = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=8, choices=SampleStatus.choices, default=SampleStatus.QUEUED
    )
    progress = models.FloatField(default=0.0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"sample {self.pk} into sprint {self.sprint_id} ({self.status})"
