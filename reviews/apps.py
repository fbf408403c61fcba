from django.apps import AppConfig
from django.db.models.signals import post_save


class ReviewsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reviews"

    def ready(self) -> None:
        from annotation.services.demo_extras import register_demo_extra
        from annotation.services.jobs import JobKind, register_job_kind
        from reviews import signals
        from reviews.demo import seed_labelled_sprint

        _register_navigation()
        register_demo_extra("reviews.labelled_sprint", seed_labelled_sprint)

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


def _open_disputes(sprint_ids: list[int]) -> dict[int, int]:
    from django.db.models import Count

    from reviews.models import Dispute, DisputeStatus

    rows = (
        Dispute.objects.filter(sprint_id__in=sprint_ids, status=DisputeStatus.OPEN)
        .values("sprint_id")
        .annotate(n=Count("id"))
    )
    return {row["sprint_id"]: row["n"] for row in rows}


def _register_navigation() -> None:
    """The dispute queue (reviewers and leads, with its open count), the dashboard (leads) and
    the model leaderboard (leads: reviewers label too, and it names the models;
    reviews.services.leaderboard_access) on the home page and the sprint bar
    (annotation.services.navigation)."""
    from annotation.models import SprintRole
    from annotation.services.navigation import SprintLink, register_sprint_link

    register_sprint_link(
        SprintLink("Disputes", "dispute-queue", SprintRole.REVIEWER, count=_open_disputes)
    )
    register_sprint_link(SprintLink("Dashboard", "sprint-dashboard", SprintRole.LEAD))
    register_sprint_link(SprintLink("Leaderboard", "sprint-leaderboard", SprintRole.LEAD))
