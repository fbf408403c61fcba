"""Dataset versions: immutable export files with their manifest."""

from django.conf import settings
from django.db import models


class ExportKind(models.TextChoices):
    PREFERENCE = "preference", "Preference pairs (prompt, chosen, rejected)"
    JUDGMENTS = "judgments", "Every judgment, pseudonymised"
    CONSENSUS = "consensus", "One row per item"


class ExportFormat(models.TextChoices):
    JSONL = "jsonl", "JSON Lines"
    PARQUET = "parquet", "Parquet"
    CSV = "csv", "CSV"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DatasetVersion(models.Model):
    """One export. Once ``status`` is done, the file named ``file_path`` in the artifact store
    (annotation.services.artifact_store; on the local store, relative to ``settings.DATA_DIR``)
    never changes, and ``sha256`` and ``rows`` describe it; ``manifest``
    holds its provenance (exports.services.manifest). ``filters`` are stored with every default
    filled in (exports.services.requests).

    A ``preference`` file has the columns ``prompt``, ``chosen``, ``rejected``, ``margin``,
    ``agreement``, ``item_id`` and ``split`` (``train`` or ``test``), in that order
    (exports.services.rows). Built by exports.services.build, which also says what ``attempt``
    and ``heartbeat_at`` are for.

    A ``preference`` export may also hold production preferences (feedback): ``production``
    is then the request's production filters with defaults filled in (``sources``, ``since``,
    ``until``, ``model_version``, ``kind``; exports.services.production_request) and
    ``feedback_sources`` the sources they come from; ``None`` and none for an export of sprints
    alone. Such a file adds the columns ``origin``, ``source``, ``event_id`` and ``kind``
    (exports.services.production_rows); ``sprints`` may then be empty."""

    kind = models.CharField(max_length=12, choices=ExportKind.choices)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    sprints = models.ManyToManyField("annotation.Sprint", related_name="dataset_versions")
    filters = models.JSONField(default=dict, blank=True)
    production = models.JSONField(null=True, blank=True)
    feedback_sources = models.ManyToManyField(
        "feedback.FeedbackSource", related_name="dataset_versions", blank=True
    )
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    manifest = models.JSONField(default=dict, blank=True)
    file_path = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dataset_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The build that owns the export now: each start of a build takes a fresh token, and a
    # build whose token was taken over stops without publishing (exports.services.build).
    attempt = models.CharField(max_length=32, blank=True, default="")
    # Stamped while a build writes the file; a stale one tells the next build (and the
    # periodic sweep) that the last one died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["preference", "judgments", "consensus"]),
                name="dataset_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(format__in=["jsonl", "parquet", "csv"]),
                name="dataset_format_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                name="dataset_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"dataset {self.pk} ({self.kind}.{self.format}, {self.status})"
