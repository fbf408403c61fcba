from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BackgroundJob(models.Model):
    """One piece of background work asked for by a write: review an item, build an export,
    train a run. The row is stored in the same transaction as the write that asked for it,
    so the work is never forgotten even when its Celery message is lost (a dead broker, a
    worker killed after it took the message). Written only by :mod:`annotation.services.jobs`.

    ``kind`` names a registered job kind (its task, its stall time); ``key`` is the target the
    task works on (an item id, an export id...), ``args`` the task's arguments. ``published_at``
    is the last time a message was handed to the broker, empty while the broker refused it;
    ``publishes`` counts messages sent, ``attempts`` the times a worker started the job.
    """

    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    publishes = models.PositiveIntegerField(default=0)
    enqueued_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                name="background_job_status_valid",
            )
        ]
        indexes = [
            models.Index(fields=["status", "kind"], name="background_job_status"),
            models.Index(fields=["kind", "key"], name="background_job_target"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} for {self.key} ({self.status})"
