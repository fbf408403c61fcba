"""Who may see an export: the leads of every sprint it draws from, and superusers.

An export mixes the judgments of all its sprints, so leading one of them is not enough. Anyone
else is told the export does not exist, so an id reveals nothing."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Exists, OuterRef, QuerySet

from annotation.models import SprintMember, SprintRole
from exports.models import DatasetVersion


def exports_visible_to(user: AbstractBaseUser) -> QuerySet[DatasetVersion]:
    if not user.is_authenticated or not user.is_active:
        return DatasetVersion.objects.none()
    if user.is_superuser:
        return DatasetVersion.objects.all()
    not_led = DatasetVersion.sprints.through.objects.filter(
        datasetversion_id=OuterRef("pk")
    ).exclude(
        sprint_id__in=SprintMember.objects.filter(user=user, role=SprintRole.LEAD).values(
            "sprint_id"
        )
    )
    return DatasetVersion.objects.filter(sprints__isnull=False).exclude(Exists(not_led)).distinct()
