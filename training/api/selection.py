"""``POST /api/v1/sprints/{id}/select-next``: a lead asks for the next sprint from this
sprint's unlabeled items by the production reward model's uncertainty, plus a random share
(see :mod:`training.services.selection`). Scoring takes minutes for a large pool, so a worker
does it (:mod:`training.services.selection_jobs`): the POST answers 202 with the selection's
id and status URL, and ``GET /api/v1/selections/{id}`` shows its progress, then the new sprint
or the reason it failed."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.job_answers import job_accepted, job_accepted_schema, queued_warning
from annotation.api.permissions import require_sprint_role
from annotation.api.schema import ClosedBodySerializer
from annotation.models import Sprint, SprintRole
from training.models import ModelStage, ModelVersion, RunStatus, SelectionRun
from training.services.registry import models_led_by
from training.services.selection_jobs import SELECTION_JOB, selection_body, start_selection


class SelectNextSerializer(ClosedBodySerializer):
    size = serializers.IntegerField(min_value=1, max_value=100_000)
    random_share = serializers.FloatField(required=False, default=0.2, min_value=0, max_value=1)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**32 - 1)
    model = serializers.IntegerField(
        required=False,
        help_text="A production model version; default: the latest promoted production model "
        "trained from this sprint.",
    )
    name = serializers.CharField(required=False, default="", max_length=200)
    slug = serializers.SlugField(required=False, default="", max_length=100)


def _model_for(user, sprint: Sprint, model_id: int | None) -> ModelVersion:
    led = models_led_by(user)
    if model_id is not None:
        model = led.filter(pk=model_id).first()
        if model is None:
            raise ValidationError({"model": "No model version with this id that you lead."})
        return model
    model = led.filter(stage=ModelStage.PRODUCTION, sprints=sprint).order_by("-promoted_at").first()
    if model is None:
        raise ValidationError(
            {"model": "No production model was trained from this sprint; name one."}
        )
    return model


NEXT_SPRINT_FIELDS = {
    "sprint": serializers.IntegerField(),
    "slug": serializers.CharField(),
    "model": serializers.IntegerField(),
    "uncertain": serializers.ListField(child=serializers.IntegerField()),
    "random": serializers.ListField(child=serializers.IntegerField()),
    "gold_copied": serializers.IntegerField(),
}

SelectionStatus = inline_serializer(
    "Selection",
    {
        "id": serializers.IntegerField(),
        "source": serializers.IntegerField(help_text="The sprint selected from."),
        "model": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=["queued", "running", "done", "failed"]),
        "scored": serializers.IntegerField(help_text="Pool items scored so far."),
        "total": serializers.IntegerField(help_text="Pool items to score (0 until it starts)."),
        "progress": serializers.FloatField(help_text="scored / total, from 0 to 1."),
        "params": serializers.DictField(help_text="size, random_share, seed, name, slug."),
        "result": inline_serializer(
            "NextSprint",
            NEXT_SPRINT_FIELDS,
            allow_null=True,
            help_text="Once done: the new sprint.",
        ),
        "error": serializers.CharField(help_text="Why it failed; empty otherwise."),
        "warning": serializers.CharField(
            allow_null=True,
            help_text="While it is queued but the workers are unreachable; null otherwise.",
        ),
        "created_at": serializers.DateTimeField(),
        "started_at": serializers.DateTimeField(allow_null=True),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)

SelectionAccepted = job_accepted_schema(
    "SelectionAccepted", "selection", status_url="progress and the result"
)


class SelectNextView(APIView):
    @extend_schema(
        request=SelectNextSerializer,
        responses={
            202: SelectionAccepted,
            400: OpenApiResponse(
                description="A bad field, an empty pool, or no production model of this sprint "
                "to name; nothing stored."
            ),
            403: OpenApiResponse(description="The caller does not lead this sprint."),
            409: OpenApiResponse(description="The model is not in production."),
        },
    )
    def post(self, request: Request, sprint_id: int) -> Response:
        """Ask a worker to score this sprint's unlabeled pool and build the next sprint."""
        source = get_object_or_404(Sprint.objects.select_related("rubric"), pk=sprint_id)
        require_sprint_role(request.user, source, SprintRole.LEAD)
        body = SelectNextSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        model = _model_for(request.user, source, values.get("model"))
        selection = start_selection(
            source,
            model,
            size=values["size"],
            random_share=values["random_share"],
            seed=values["seed"],
            name=values["name"],
            slug=values["slug"],
            actor=request.user,
        )
        return job_accepted(request, SELECTION_JOB, selection, "api-selection")


class SelectionDetailView(APIView):
    @extend_schema(
        responses={
            200: SelectionStatus,
            403: OpenApiResponse(description="The caller does not lead the source sprint."),
            404: OpenApiResponse(description="No such selection in a sprint of the caller."),
        }
    )
    def get(self, request: Request, selection_id: int) -> Response:
        """A selection's status and progress, then the new sprint or why it failed."""
        selection = get_object_or_404(
            SelectionRun.objects.select_related("source"), pk=selection_id
        )
        require_sprint_role(request.user, selection.source, SprintRole.LEAD)
        warning = queued_warning(SELECTION_JOB, selection, RunStatus.QUEUED)
        return Response({**selection_body(selection), "warning": warning})
