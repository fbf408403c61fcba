"""The ground floor of Concord's data: rubrics, sprints, items, assignments, judgments, audit."""

from annotation.models.audit import AuditEvent
from annotation.models.invitations import Invitation
from annotation.models.items import GoldAnswer, Item, Response
from annotation.models.jobs import BackgroundJob, JobStatus
from annotation.models.judgments import Assignment, ItemFlag, Judgment
from annotation.models.rubrics import Criterion, CriterionKind, Rubric
from annotation.models.sprints import Sprint, SprintMember, SprintRole, SprintStatus

__all__ = [
    "Assignment",
    "AuditEvent",
    "BackgroundJob",
    "Criterion",
    "CriterionKind",
    "GoldAnswer",
    "Invitation",
    "Item",
    "ItemFlag",
    "JobStatus",
    "Judgment",
    "Response",
    "Rubric",
    "Sprint",
    "SprintMember",
    "SprintRole",
    "SprintStatus",
]
