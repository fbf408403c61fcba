from django.conf import settings
from django.db import models


class SprintStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class SprintRole(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    LEAD = "lead", "Lead"


class Sprint(models.Model):
    """A time-boxed labeling batch under one rubric version."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    rubric = models.ForeignKey(
        "annotation.Rubric", on_delete=models.PROTECT, related_name="sprints"
    )
    overlap_k = models.PositiveSmallIntegerField(
        default=3, help_text="How many annotators judge each item."
    )
    gold_rate = models.FloatField(default=0.0, help_text="Share of served items that are gold.")
    agreement_threshold = models.FloatField(
        default=0.67, help_text="Item agreement below this opens a dispute."
    )
    lease_minutes = models.PositiveSmallIntegerField(default=30)
    deadline = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=SprintStatus.choices, default=SprintStatus.DRAFT
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="annotation.SprintMember", related_name="sprints"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(overlap_k__gte=1), name="sprint_overlap_k_gte_1"
            ),
            models.CheckConstraint(
                condition=models.Q(gold_rate__gte=0.0, gold_rate__lte=1.0),
                name="sprint_gold_rate_in_0_1",
            ),
            models.CheckConstraint(
                condition=models.Q(agreement_threshold__gte=-1.0, agreement_threshold__lte=1.0),
                name="sprint_agreement_threshold_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "active", "closed"]),
                name="sprint_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(lease_minutes__gte=1), name="sprint_lease_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SprintMember(models.Model):
    sprint = models.ForeignKey(Sprint, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sprint_memberships"
    )
    role = models.CharField(max_length=10, choices=SprintRole.choices, default=SprintRole.ANNOTATOR)
    pseudonym = models.CharField(
        max_length=32, blank=True, help_text="Stable name used in exports instead of the username."
    )
    joined_at = models.DateTimeField(auto_now_add=True)
    # The last item id the queue handed this member: the next search starts after it, so an
    # annotator's request costs the same on the millionth item as on the first.
    queue_cursor = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["sprint", "role", "user"]
        constraints = [
            models.UniqueConstraint(fields=["sprint", "user"], name="sprint_member_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=["annotator", "reviewer", "lead"]),
                name="sprint_member_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.sprint} as {self.role}"
