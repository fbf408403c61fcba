"""Object-level access for the training API and pages.

Training runs and model versions belong to their dataset version, and a dataset version to
its sprints: a caller who leads every one of those sprints (or is a superuser) may act on the
object; a member of one of them who does not lead them all gets 403; anyone else 404, so ids
reveal nothing across teams (:mod:`training.services.datasets`).
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from exports.models import DatasetVersion
from training.models import ModelVersion, TrainingRun
from training.services.datasets import datasets_led_by, datasets_visible_to

LEAD_ONLY = "This needs the lead role in every sprint of the dataset."


def require_led(
    user: AbstractBaseUser, queryset: QuerySet, pk: int, *, dataset_path: str, what: str
) -> Model:
    """The object ``pk`` of ``queryset`` if ``user`` leads its dataset; else 403 or 404.
    ``dataset_path`` is the lookup from the object to its dataset version (``""`` for a
    dataset version itself). Django's exceptions, so pages and the API both answer them."""
    key = f"{dataset_path}__in" if dataset_path else "pk__in"
    obj = queryset.filter(pk=pk, **{key: datasets_led_by(user).values("pk")}).first()
    if obj is not None:
        return obj
    if queryset.filter(pk=pk, **{key: datasets_visible_to(user).values("pk")}).exists():
        raise PermissionDenied(LEAD_ONLY)
    raise Http404(f"No such {what}.")


def led_dataset(user: AbstractBaseUser, pk: int) -> DatasetVersion:
    return require_led(user, DatasetVersion.objects.all(), pk, dataset_path="", what="dataset")


def led_run(user: AbstractBaseUser, pk: int) -> TrainingRun:
    queryset = TrainingRun.objects.select_related("dataset", "created_by", "model_version")
    return require_led(user, queryset, pk, dataset_path="dataset", what="training run")


def led_model(user: AbstractBaseUser, pk: int) -> ModelVersion:
    queryset = ModelVersion.objects.select_related("run__dataset", "promoted_by")
    return require_led(user, queryset, pk, dataset_path="run__dataset", what="model version")


def referenced(lookup, user: AbstractBaseUser, pk: int, field: str) -> Model:
    """``lookup(user, pk)`` for an id given in a request body: its 404 or 403 in the one error
    shape naming ``field``, so the caller knows which id of the body was refused."""
    from annotation.services.errors import ConcordError

    try:
        return lookup(user, pk)
    except Http404 as missing:
        raise ConcordError(str(missing), 404, field=field) from None
    except PermissionDenied as denied:
        raise ConcordError(str(denied) or LEAD_ONLY, 403, field=field) from None
