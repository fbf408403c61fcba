from django.db import models


class FeedbackEvent(models.Model):
    """One answered prompt in production, redacted before it was stored.

    Text fields (``prompt``, ``context``, ``response``, ``alternatives``' texts, ``correction``,
    ``comment``) hold redacted text only, and are emptied once the source's retention period
    passes (``text_purged_at`` set); signals, hashes and provenance stay. ``session_hash`` and
    ``user_hash`` are keyed hashes (``feedback.services.hashing``), never the ids themselves.

    ``prompt`` is a string or a list of chat messages; ``context`` a list of documents
    (``{"id", "title", "text", "source", "cited"}``); ``response_id`` names the response among
    ``alternatives`` (``[{"id", "text", "model": {"name", "version"}, "shown", "signals"}]``).
    ``signals`` holds every signal as sent (thumb, stars, outcome, steps, picked, reasked,
    escalated, copied, dwell_seconds); the ones the dashboard and the samples filter on are
    copied into their own columns.
    """

    source = models.ForeignKey(
        "feedback.FeedbackSource", on_delete=models.PROTECT, related_name="events",
        db_index=False,
    )  # fmt: skip
    event_id = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    session_hash = models.CharField(max_length=64, blank=True, default="")
    user_hash = models.CharField(max_length=64, blank=True, default="")
    trace_id = models.CharField(max_length=200, blank=True, default="")
    model_name = models.CharField(max_length=200)
    model_version = models.CharField(max_length=100, blank=True, default="")
    prompt = models.JSONField(null=True, blank=True)
    context = models.JSONField(default=list, blank=True)
    response_id = models.CharField(max_length=100, default="response")
    response = models.TextField(blank=True, default="")
    alternatives = models.JSONField(default=list, blank=True)
    correction = models.TextField(blank=True, default="")
    comment = models.TextField(blank=True, default="")
    signals = models.JSONField(default=dict, blank=True)
    thumb = models.SmallIntegerField(null=True, blank=True)  # 1 up, -1 down
    stars = models.SmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=10, blank=True, default="")
    reasked = models.BooleanField(null=True, blank=True)
    escalated = models.BooleanField(null=True, blank=True)
    stratum = models.CharField(max_length=100, blank=True, default="")
    locale = models.CharField(max_length=35, blank=True, default="")
    segment = models.CharField(max_length=100, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    # How many distinct responses the event holds: the response, its alternatives, a correction.
    response_count = models.PositiveSmallIntegerField(default=1)
    redaction_counts = models.JSONField(default=dict, blank=True)
    text_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source", "occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="feedback_event_id_unique"),
            models.CheckConstraint(
                condition=models.Q(thumb__in=[-1, 1]) | models.Q(thumb__isnull=True),
                name="feedback_event_thumb_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(stars__gte=1, stars__lte=5) | models.Q(stars__isnull=True),
                name="feedback_event_stars_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["source", "occurred_at"], name="feedback_event_source_time"),
            models.Index(fields=["user_hash"], name="feedback_event_user"),
            models.Index(fields=["session_hash"], name="feedback_event_session"),
            models.Index(fields=["received_at"], name="feedback_event_received"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}/{self.event_id}"


class SampledItem(models.Model):
    """An item a sample built from an event: erasure finds the items built from a person's
    events here (the item's own metadata carries the event ids too, unseen by annotators)."""

    event = models.ForeignKey(FeedbackEvent, on_delete=models.CASCADE, related_name="items")
    item = models.ForeignKey(
        "annotation.Item", on_delete=models.CASCADE, related_name="feedback_links"
    )
    sample = models.ForeignKey(
        "feedback.FeedbackSample", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="links",
    )  # fmt: skip

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "item"], name="sampled_item_unique"),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} -> item {self.item_id}"


class ErasedEvent(models.Model):
    """An event erased at a person's request, remembered by a keyed hash of its ``event_id``
    (``feedback.services.hashing.id_hash(source, "event", event_id)``) so that a product (or a
    client retrying) that sends it again does not bring it back: ingest answers it as
    ``erased`` and stores nothing."""

    source = models.ForeignKey(
        "feedback.FeedbackSource", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    event_key = models.CharField(max_length=64)
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_key"], name="erased_event_unique"),
        ]

    def __str__(self) -> str:
        return f"erased event of source {self.source_id}"
