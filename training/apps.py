from django.apps import AppConfig


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"

    def ready(self) -> None:
        from annotation.services.jobs import JobKind, register_job_kind
        from training.services import evaluations, runs, selection_jobs

        _register_navigation()

        # A run whose worker died (no heartbeat for CONCORD_TRAINING_STALL_SECONDS) is trained
        # again from scratch with the same seed, once; after a second loss it is failed with the
        # reason (see training.tasks).
        register_job_kind(
            JobKind(
                runs.TRAINING_JOB,
                task="training.tasks.train_reward_model",
                stall_after=runs.stall_after,
                max_attempts=2,
                on_abandoned=lambda key, reason: runs.fail_abandoned_run(int(key), reason),
                sweep=runs.fail_abandoned_runs,
            )
        )
        # A selection whose worker died is scored again (it writes nothing until its end);
        # after three starts it fails with the reason.
        register_job_kind(
            JobKind(
                selection_jobs.SELECTION_JOB,
                task="training.tasks.select_next_sprint",
                max_attempts=3,
                on_abandoned=lambda key, reason: selection_jobs.fail_selection(int(key), reason),
            )
        )

        # An evaluation whose worker died is generated again from scratch (seeded: the same
        # texts), once; after a second loss it is failed with the reason.
        register_job_kind(
            JobKind(
                evaluations.EVALUATION_JOB,
                task="training.tasks.evaluate_policy",
                stall_after=evaluations.stall_after,
                max_attempts=2,
                on_abandoned=lambda key, reason: evaluations.fail_evaluation(int(key), reason),
            )
        )


def _register_navigation() -> None:
    """The models page (every lead) and the training runs in the admin (staff leads)."""
    from annotation.services.navigation import ToolLink, register_tool_link, staff_lead
    from training.services.datasets import leads_any_sprint

    register_tool_link(
        ToolLink(
            "Models",
            "training-models",
            leads_any_sprint,
            "reward-model versions side by side; promote one",
            position=30,
        )
    )
    register_tool_link(
        ToolLink(
            "Policies",
            "training-policies",
            leads_any_sprint,
            "policy versions, their evaluations' evidence; promote or roll back",
            position=35,
        )
    )
    register_tool_link(
        ToolLink(
            "Training runs",
            "admin:training_trainingrun_changelist",
            staff_lead,
            "live status of each run",
            position=40,
        )
    )
