from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# Longer retention is as good as "for ever", and keeps the purge's date arithmetic in range.
MAX_RETENTION_DAYS = 36_500


class FeedbackSource(models.Model):
    """A product (or one surface of it) that sends feedback events.

    ``retention_days``: how long an event's raw text (prompt, context, responses, correction,
    comment) is kept; the purge keeps signals, hashes and provenance after it. ``detectors``:
    the PII detectors run on its events (``feedback.services.redaction.PiiType`` names); empty
    means every detector. ``leads`` may list and read its events and draw samples from them.
    """

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    retention_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)],
        help_text="Days an event's raw text is kept (1 to 36,500).",
    )  # fmt: skip
    detectors = models.JSONField(default=list, blank=True)
    leads = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="feedback_sources_led", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class IngestToken(models.Model):
    """A feedback client's credential: it may ingest events for its ``sources`` and read
    nothing. Only a SHA-256 of the key is stored (``key_hash``); the key is shown once, when
    the token is made (``feedback.services.ingest_tokens``). ``prefix`` is the key's first
    characters, to tell tokens apart in lists."""

    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    sources = models.ManyToManyField(FeedbackSource, related_name="ingest_tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
