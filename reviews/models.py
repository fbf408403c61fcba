"""Consensus labels and disputes.

A consensus label is the current answer of an item; it is recomputed as judgments arrive, except
that an adjudicated label is never overwritten by a computed one. A dispute is an item that a
reviewer must settle; at most one is open per item at a time.
"""

from django.conf import settings
from django.db import models


class ConsensusMethod(models.TextChoices):
    UNANIMOUS = "unanimous", "Unanimous"
    MAJORITY = "majority", "Majority vote"
    DAWID_SKENE = "dawid_skene", "Dawid-Skene"
    BRADLEY_TERRY = "bradley_terry", "Bradley-Terry"
    ADJUDICATED = "adjudicated", "Adjudicated"


class ConsensusLabel(models.Model):
    """The final answer of one item.

    ``ranking`` lists response keys best first (a tie is ``[]`` with ``tie`` true);
    ``answers`` holds the per-criterion consensus of the other criteria (mean Likert score per
    response, flag share per response); ``judgment_ids`` the live judgments it came from, a JSON
    list rather than a many-to-many table because a sprint of 100,000 items x 5 annotators would
    otherwise write half a million link rows on every recompute.
    """

    sprint = models.ForeignKey("annotation.Sprint", on_delete=models.PROTECT, related_name="+")
    item = models.OneToOneField(
        "annotation.Item", on_delete=models.PROTECT, related_name="consensus"
    )
    ranking = models.JSONField(default=list)
    tie = models.BooleanField(default=False)
    strength = models.FloatField(
        null=True, blank=True, help_text="Consensus strength of the preference, if asked."
    )
    answers = models.JSONField(default=dict, blank=True)
    method = models.CharField(max_length=16, choices=ConsensusMethod.choices)
    confidence = models.FloatField(help_text="0..1: how sure the method is of the ranking.")
    agreement = models.FloatField(
        null=True, blank=True, help_text="Item-level agreement of the judgments it came from."
    )
    judgment_ids = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sprint", "item"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    method__in=[
                        "unanimous",
                        "majority",
                        "dawid_skene",
                        "bradley_terry",
                        "adjudicated",
                    ]
                ),
                name="consensus_method_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0.0, confidence__lte=1.0),
                name="consensus_confidence_in_0_1",
            ),
        ]
        indexes = [models.Index(fields=["sprint", "item"], name="consensus_sprint_item")]

    def __str__(self) -> str:
        return f"consensus of {self.item} ({self.method})"


class DisputeReason(models.TextChoices):
    SPLIT = "split", "Split vote, no majority"
    LOW_AGREEMENT = "low_agreement", "Item agreement under the sprint threshold"
    GOLD_FAILED = "gold_failed", "A gold item was answered wrongly"
    FLAGGED = "flagged", "An annotator flagged it"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    VOID = "void", "Void"


class Dispute(models.Model):
    """An item a reviewer must settle. ``reasons`` lists every :class:`DisputeReason` that
    applies; resolving records the reviewer's final ranking and rationale and writes an
    adjudicated :class:`ConsensusLabel`."""

    sprint = models.ForeignKey("annotation.Sprint", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey("annotation.Item", on_delete=models.PROTECT, related_name="disputes")
    reasons = models.JSONField(default=list)
    status = models.CharField(
        max_length=8, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    final_ranking = models.JSONField(null=True, blank=True)
    final_answers = models.JSONField(null=True, blank=True)
    rationale = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["sprint", "opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"],
                condition=models.Q(status="open"),
                name="dispute_one_open_per_item",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "resolved", "void"]),
                name="dispute_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["sprint", "status"], name="dispute_sprint_status")]

    def __str__(self) -> str:
        return f"dispute on {self.item} ({self.status})"


class DawidSkeneFit(models.Model):
    """The Dawid-Skene model last fitted to a sprint's pairwise preferences.

    Written by :func:`reviews.services.consensus.compute_consensus` and read when one item's
    label is refreshed as a judgment arrives, so that the per-item path weighs annotators
    exactly as the last sprint-wide fit did without refitting. ``classes`` are the preference
    classes (``"0>1"``: the response at position 0 is better, ``"1>0"``, ``"tie"``), ``priors``
    their estimated shares, and ``confusions`` maps an annotator id to the rows
    ``P(answer = class k | truth = class c)``, one row per class ``k`` (``null`` for an answer
    the annotator never gave).
    """

    sprint = models.OneToOneField(
        "annotation.Sprint", on_delete=models.CASCADE, related_name="dawid_skene_fit"
    )
    classes = models.JSONField(default=list)
    priors = models.JSONField(default=list)
    confusions = models.JSONField(default=dict)
    judgments = models.PositiveIntegerField(default=0)
    fitted_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Dawid-Skene fit of {self.sprint} ({self.judgments} judgments)"
