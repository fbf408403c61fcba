from django.db import models


class PreferenceKind(models.TextChoices):
    CORRECTION = "correction", "A correction preferred to the response it corrects"
    PICK = "pick", "The user's pick between responses shown together"


class ProductionPreference(models.Model):
    """A preference pair that needs no labeling, taken from one event. It names the two
    responses by their ids within the event (``correction`` for the user's correction) and
    holds no text of its own: the export reads the text from the event, so a purge or an
    erasure of the event's text is a purge of the pair too."""

    event = models.ForeignKey(
        "feedback.FeedbackEvent", on_delete=models.CASCADE, related_name="preferences"
    )
    kind = models.CharField(max_length=10, choices=PreferenceKind.choices)
    chosen_id = models.CharField(max_length=100)
    rejected_id = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "chosen_id", "rejected_id"], name="production_preference_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.chosen_id} > {self.rejected_id}"
