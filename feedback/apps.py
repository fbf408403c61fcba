from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """Production feedback events: ingest, PII redaction, retention, sampling into sprints."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "feedback"
    verbose_name = "Feedback"

    def ready(self) -> None:
        from annotation.services.jobs import JobKind, register_job_kind
        from feedback.services import sampling

        _register_navigation()

        # A sample whose worker died is drawn again (it writes nothing until its end); after
        # three starts it fails with the reason.
        register_job_kind(
            JobKind(
                sampling.SAMPLE_JOB,
                task="feedback.tasks.draw_feedback_sample",
                max_attempts=3,
                on_abandoned=lambda key, reason: sampling.fail_sample(int(key), reason),
            )
        )


def _register_navigation() -> None:
    """The feedback dashboard in the navigation bar and on the home page, for the leads of a
    feedback source (and superusers): the users its page lets in."""
    from annotation.services.navigation import ToolLink, register_tool_link
    from feedback.services.feedback_access import sources_led_by

    register_tool_link(
        ToolLink(
            "Feedback",
            "feedback-sources",
            lambda user: sources_led_by(user).exists(),
            "production feedback of the sources you lead: rates, drift, prompts to regenerate",
            position=25,
        )
    )
