from django.apps import AppConfig


class ExportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "exports"

    def ready(self) -> None:
        from annotation.services.jobs import JobKind, register_job_kind
        from exports.services import build

        _register_navigation()

        register_job_kind(
            JobKind(
                build.EXPORT_JOB,
                task="exports.tasks.build_dataset_task",
                stall_after=build.stall_after,
                max_attempts=5,
                on_abandoned=lambda key, reason: build.mark_failed(int(key), reason),
                sweep=build.resume_stalled_exports,
            )
        )


def _register_navigation() -> None:
    """The exports page (the admin's, where leads start and download exports)."""
    from annotation.services.navigation import ToolLink, register_tool_link, staff_lead

    register_tool_link(
        ToolLink(
            "Exports",
            "admin:exports_datasetversion_changelist",
            staff_lead,
            "datasets of the sprints you lead: start, follow, download",
            position=20,
        )
    )
