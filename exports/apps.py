from django.apps import AppConfig


class ExportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "exports"

    def ready(self) -> None:
        from annotation.services.jobs import JobKind, register_job_kind
        from exports.services import build

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
