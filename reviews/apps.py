from django.apps import AppConfig
from django.db.models.signals import post_save


class ReviewsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reviews"

    def ready(self) -> None:
        from annotation.services.jobs import JobKind, register_job_kind
        from reviews import signals

        register_job_kind(
            JobKind(signals.REVIEW_JOB, task="reviews.tasks.review_item", max_attempts=5)
        )

        post_save.connect(
            signals.judgment_saved,
            sender="annotation.Judgment",
            dispatch_uid="reviews.judgment_saved",
        )
        post_save.connect(
            signals.item_flag_saved,
            sender="annotation.ItemFlag",
            dispatch_uid="reviews.item_flag_saved",
        )
