"""Policies: DPO-trained causal LMs, their blind evaluations, and the registries' stage events.

A :class:`PolicyVersion` is registered from a finished run of kind ``dpo``, numbered per name
like reward models, with the same stages and the same database guarantee of at most one
production version per name. A :class:`PolicyEvaluation` generates responses of a candidate and
a baseline (production) policy to held-out prompts and turns them into a blind pairwise sprint;
its consensus labels are the evidence the promotion gate reads. A :class:`RegistryEvent` is the
append-only record of every promotion, archiving and rollback in either registry, shaped to be
delivered as a webhook (name, version, actor, reason, evidence).
"""

from django.conf import settings
from django.db import models

from training.models.reward import (
    RegisteredVersion,
    RunStatus,
    TrainingRun,
    version_constraints,
)


class PolicyVersion(RegisteredVersion):
    """A policy registered from a done ``dpo`` run. ``base_model`` is the run's base model as it
    was asked (a directory under the operator's roots, or ``policy:<id>``); ``adapter`` says
    the artifacts are a LoRA adapter to load over that base rather than a whole model;
    ``rendering`` is how the training prompts were written (the dataset's form, context and
    templates, and the tokenizer's chat template), which generation for an evaluation applies."""

    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="policy_version")
    base_model = models.CharField(max_length=500)
    adapter = models.BooleanField(default=False)
    rendering = models.JSONField(default=dict, blank=True)
    sprints = models.ManyToManyField("annotation.Sprint", related_name="policy_versions")

    class Meta(RegisteredVersion.Meta):
        constraints = version_constraints("policy")

    def __str__(self) -> str:
        return f"policy {self.name} v{self.version} ({self.stage})"

    @property
    def label(self) -> str:
        """The model name its generated responses carry: ``name@v<version>``."""
        return f"{self.name}@v{self.version}"


class PolicyEvaluation(models.Model):
    """A blind comparison of ``candidate`` with ``baseline`` (the production policy of the
    candidate's name when it was started), run as a background job on the gpu queue.

    ``prompts`` is the snapshot of the held-out prompts (``[{"prompt", "context"}]``) and
    ``prompt_source`` where they came from (``{"dataset": id, "split": "test"}`` or
    ``{"file": name}``); ``sampling`` the generation settings and ``seed`` the seed, both
    recorded so the responses can be generated again. ``generation`` holds what generating
    cost (tokens, seconds, tokens/s per side). Once done, ``sprint`` is the blind pairwise
    sprint under ``rubric``; ``automatic`` the reward model's first look (``reward_model``'s
    win rate of the candidate with its bootstrap interval), before any human label; ``gate``
    the rule promotion is judged by (``{"min_comparisons", "lower_bound_above"}``)."""

    candidate = models.ForeignKey(
        PolicyVersion, on_delete=models.PROTECT, related_name="evaluations"
    )
    baseline = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    reward_model = models.ForeignKey(
        "training.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rubric = models.ForeignKey("annotation.Rubric", on_delete=models.PROTECT, related_name="+")
    sprint = models.OneToOneField(
        "annotation.Sprint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policy_evaluation",
    )
    sprint_name = models.CharField(max_length=200)
    prompt_source = models.JSONField(default=dict)
    prompts = models.JSONField(default=list)
    sampling = models.JSONField(default=dict)
    seed = models.PositiveBigIntegerField(default=0)
    gate = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    generation = models.JSONField(default=dict, blank=True)
    automatic = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="policy_evaluations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "done", "failed", "cancelled"]),
                name="policy_evaluation_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(candidate=models.F("baseline")),
                name="policy_evaluation_two_policies",
            ),
        ]

    def __str__(self) -> str:
        return f"evaluation {self.pk} of policy {self.candidate_id} ({self.status})"


class RegistryKind(models.TextChoices):
    REWARD = "reward", "Reward model"
    POLICY = "policy", "Policy"


class RegistryEvent(models.Model):
    """One stage change in a registry, append-only: ``promoted``, ``archived`` (replaced by a
    promotion or a rollback) or ``rolled_back`` (production returned to ``version_id``).
    ``previous_id`` is the version that held production before this event (None: none did), so
    a rollback finds the version to return to from the event that made the current one
    production. ``evidence`` is what the decision rested on (the gate's verdict with both win
    rates, counts and intervals, and the datasets); ``reason`` the lead's words (required for
    an override and a rollback). ``delivered_at`` is for a webhook sender to mark."""

    registry = models.CharField(max_length=10, choices=RegistryKind.choices)
    event = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    version_id = models.BigIntegerField()
    version = models.PositiveIntegerField()
    previous_id = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True, default="")
    override = models.BooleanField(default=False)
    evidence = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["registry", "name", "created_at"], name="registry_event_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(registry__in=["reward", "policy"]),
                name="registry_event_registry_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(event__in=["promoted", "archived", "rolled_back", "demoted"]),
                name="registry_event_event_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registry} {self.name} v{self.version} {self.event}"

    def payload(self) -> dict:
        """The event as a webhook would send it."""
        return {
            "id": self.pk,
            "registry": self.registry,
            "event": self.event,
            "name": self.name,
            "version": self.version,
            "version_id": self.version_id,
            "previous_id": self.previous_id,
            "actor": self.actor.get_username() if self.actor else None,
            "reason": self.reason,
            "override": self.override,
            "evidence": self.evidence,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }
