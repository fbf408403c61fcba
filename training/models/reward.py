"""Training runs and the model registry.

A :class:`TrainingRun` is one attempt to train a reward model from a dataset version; its row
is the whole state of the work (no Celery result backend): status, progress, metrics while it
runs, and the error when it fails. A :class:`ModelVersion` is registered from a run that
finished, under a name whose versions count 1, 2, 3...; at most one version of a name is in
production at a time, which the database guarantees with a partial unique index.
"""

from django.conf import settings
from django.db import models


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED)


class RunKind(models.TextChoices):
    """What a run trains: a reward model (registered as a :class:`ModelVersion`) or a policy
    fine-tuned with DPO (registered as a :class:`~training.models.policy.PolicyVersion`)."""

    REWARD = "reward", "Reward model"
    DPO = "dpo", "Policy (DPO)"


class TrainingRun(models.Model):
    """One training run: a reward model or, with ``kind`` ``dpo``, a policy.

    ``config`` holds every hyper-parameter the trainer was given (epochs, batch size, learning
    rate, seed, max length...) plus how the test split was chosen; ``metrics`` the loss curve and
    the held-out evaluation after each epoch, filled in while the run goes; ``artifacts_dir`` is
    the artifacts' folder name in the artifact store (the same path relative to
    ``settings.DATA_DIR`` on the local store). ``cancel_requested`` is written only by a cancel
    and read by the worker, which never writes it, so a progress update cannot lose a cancel.
    """

    dataset = models.ForeignKey(
        "exports.DatasetVersion", on_delete=models.PROTECT, related_name="training_runs"
    )
    kind = models.CharField(max_length=10, choices=RunKind.choices, default=RunKind.REWARD)
    model_name = models.CharField(
        max_length=100, help_text="The registry name the finished model is registered under."
    )
    base_model = models.CharField(max_length=500)
    config = models.JSONField(default=dict)
    device = models.CharField(max_length=32, blank=True, default="")
    world_size = models.PositiveSmallIntegerField(
        default=1,
        help_text="Processes the run trained in (DistributedDataParallel; 1: a single process).",
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    current_step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    artifacts_dir = models.CharField(max_length=500, blank=True, default="")
    artifacts_sha256 = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="SHA-256 of the artifacts' manifest.json in the artifact store, which lists "
        "every file's SHA-256; empty for runs stored before artifacts went to the store.",
    )
    library_versions = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="training_runs",
        help_text="Empty for a run the retraining schedule started.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker touches this with every progress write: a running run whose heartbeat stops
    # lost its worker (see training.services.runs.fail_abandoned_runs).
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed", "cancelled"]),
                name="training_run_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0.0, progress__lte=1.0),
                name="training_run_progress_in_0_1",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["reward", "dpo"]), name="training_run_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="training_run_status")]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class ModelStage(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    PRODUCTION = "production", "Production"
    ARCHIVED = "archived", "Archived"


def version_constraints(prefix: str) -> list:
    """A registry's database guarantees, its constraints named ``<prefix>_...``: one row per
    (name, version), versions from 1, a known stage, and at most one production version per
    name (a partial unique index)."""
    return [
        models.UniqueConstraint(fields=["name", "version"], name=f"{prefix}_version_unique"),
        models.UniqueConstraint(
            fields=["name"],
            condition=models.Q(stage="production"),
            name=f"{prefix}_one_production_per_name",
        ),
        models.CheckConstraint(
            condition=models.Q(stage__in=["candidate", "production", "archived"]),
            name=f"{prefix}_stage_valid",
        ),
        models.CheckConstraint(condition=models.Q(version__gte=1), name=f"{prefix}_version_gte_1"),
    ]


class RegisteredVersion(models.Model):
    """What a registered version of either registry has (reward models here, policies in
    :mod:`training.models.policy`): a name whose versions count 1, 2, 3..., a stage, a snapshot
    of its run's metrics, and who moved it last and when. Each registry keeps its own run link,
    sprints and database constraints."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    stage = models.CharField(
        max_length=10, choices=ModelStage.choices, default=ModelStage.CANDIDATE
    )
    metrics = models.JSONField(default=dict, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    promoted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["name", "-version"]


class ModelVersion(RegisteredVersion):
    """A reward model registered from a finished run. ``metrics`` is a snapshot of the run's
    metrics at registration; ``rendering`` the run's recorded rendering, which every score
    applies; ``sprints`` those of the run's dataset version, which the retraining schedule
    watches for new consensus labels."""

    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="model_version")
    rendering = models.JSONField(
        default=dict,
        blank=True,
        help_text="How the training rows were written (form, context and templates) and the "
        "tokenizer's chat template (null: none): every score renders its prompt this way "
        "(training.services.model_rendering).",
    )
    sprints = models.ManyToManyField("annotation.Sprint", related_name="model_versions")

    class Meta(RegisteredVersion.Meta):
        constraints = version_constraints("model")

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.stage})"


class SelectionRun(models.Model):
    """One active selection (:mod:`training.services.selection`), run as a background job.

    ``params`` holds what was asked (size, random share, seed, name and the slug fixed when it
    was asked); ``scored`` of ``total`` pool items are scored so far; ``result`` is what the
    selection made (the new sprint, its slug and the chosen item ids) once it is ``done``, and
    ``error`` why it failed. Written only by :mod:`training.services.selection_jobs`."""

    source = models.ForeignKey(
        "annotation.Sprint", on_delete=models.CASCADE, related_name="selection_runs"
    )
    model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    scored = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="selection_runs",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                name="selection_run_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"selection {self.pk} from sprint {self.source_id} ({self.status})"

    @property
    def progress(self) -> float:
        """Items scored over the pool, 0 to 1 (1 once done)."""
        if self.status == RunStatus.DONE:
            return 1.0
        return min(1.0, self.scored / self.total) if self.total else 0.0
