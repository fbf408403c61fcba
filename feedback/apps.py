from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """Production feedback events: ingest, PII redaction, retention, sampling into sprints."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "feedback"
    verbose_name = "Feedback"
