from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class FrozenRubricError(ValidationError):
    """Raised when something tries to change a rubric that judgments already answer."""


class Rubric(models.Model):
    """A versioned set of questions. Judgments point at the exact version they answered, so a
    rubric is frozen once any sprint using it has a judgment; changes make a new version."""

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_version"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="rubric_name_version_unique"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="rubric_version_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_frozen(self) -> bool:
        from annotation.models.judgments import Judgment

        if self.pk is None:
            return False
        return Judgment.objects.filter(rubric_id=self.pk).exists()

    def preference_criterion(self) -> "Criterion | None":
        return self.criteria.filter(kind=CriterionKind.PREFERENCE).first()


class CriterionKind(models.TextChoices):
    PREFERENCE = "preference", "Preference (which response is better, or a ranking)"
    LIKERT = "likert", "Likert score per response"
    FLAG = "flag", "Yes/no flag per response"
    TEXT = "text", "Free text"


class Criterion(models.Model):
    """One question of a rubric.

    ``config`` holds the kind's options, checked by :func:`annotation.services.rubrics.
    validate_criterion_config`: for ``preference`` ``allow_tie`` and ``strength_labels``
    (an ordinal scale, e.g. slightly / clearly / much better); for ``likert`` ``min``, ``max``
    and ``labels``; for ``text`` ``max_length``.
    """

    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="criteria")
    name = models.SlugField(max_length=64, help_text="Key of this answer in a judgment.")
    kind = models.CharField(max_length=16, choices=CriterionKind.choices)
    question = models.CharField(max_length=500)
    help_text = models.TextField(blank=True)
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["rubric", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rubric", "name"], name="criterion_name_unique"),
            models.UniqueConstraint(
                fields=["rubric"],
                condition=models.Q(kind="preference"),
                name="criterion_one_preference_per_rubric",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["preference", "likert", "flag", "text"]),
                name="criterion_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rubric}: {self.name} ({self.kind})"

    def clean(self) -> None:
        from annotation.services.rubrics import validate_criterion_config

        errors = validate_criterion_config(self.kind, self.config)
        if errors:
            raise ValidationError({"config": errors})
