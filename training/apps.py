from django.apps import AppConfig


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"

    def ready(self) -> None:
        from annotation.services.jobs import JobKind, register_job_kind
        from training.services import runs

        # One start per run: a run whose worker died is failed with the reason, never trained
        # again behind the user's back (see training.tasks).
        register_job_kind(
            JobKind(
                runs.TRAINING_JOB,
                task="training.tasks.train_reward_model",
                stall_after=runs.stale_after,
                max_attempts=1,
                on_abandoned=lambda key, reason: runs.fail_abandoned_run(int(key), reason),
                sweep=runs.fail_abandoned_runs,
            )
        )
