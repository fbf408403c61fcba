"""Who may see an export: the leads of every sprint and every feedback source it draws from,
and superusers.

An export mixes the judgments of all its sprints (and the production pairs of all its feedback
sources), so leading one of them is not enough. Anyone else is told the export does not exist,
so an id reveals nothing."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from annotation.models import SprintMember, SprintRole
from exports.models import DatasetVersion
from feedback.services.feedback_access import sources_led_by


def exports_visible_to(user: AbstractBaseUser) -> QuerySet[DatasetVersion]:
    if not user.is_authenticated or not user.is_active:
        return DatasetVersion.objects.none()
    if user.is_superuser:
        return DatasetVersion.objects.all()
    sprint_links = DatasetVersion.sprints.through.objects.filter(datasetversion_id=OuterRef("pk"))
    not_led = sprint_links.exclude(
        sprint_id__in=SprintMember.objects.filter(user=user, role=SprintRole.LEAD).values(
            "sprint_id"
        )
    )
    source_links = DatasetVersion.feedback_sources.through.objects.filter(
        datasetversion_id=OuterRef("pk")
    )
    source_not_led = source_links.exclude(feedbacksource_id__in=sources_led_by(user).values("pk"))
    return (
        DatasetVersion.objects.filter(Q(Exists(sprint_links)) | Q(Exists(source_links)))
        .exclude(Exists(not_led))
        .exclude(Exists(source_not_led))
    )
