"""``POST /api/v1/sprints/{id}/select-next``: a lead builds the next sprint from this sprint's
unlabeled items by the production reward model's uncertainty, plus a random share (see
:mod:`training.services.selection`). Scoring runs in the request; a large pool is sampled down
to ``CONCORD_SELECTION_MAX_POOL`` items first."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import require_sprint_role
from annotation.api.schema import ClosedBodySerializer
from annotation.models import Sprint, SprintRole
from training.models import ModelStage, ModelVersion
from training.services.registry import models_led_by
from training.services.selection import select_next_sprint


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


class SelectNextView(APIView):
    @extend_schema(
        request=SelectNextSerializer,
        responses={
            201: inline_serializer(
                "NextSprint",
                {
                    "sprint": serializers.IntegerField(),
                    "slug": serializers.CharField(),
                    "model": serializers.IntegerField(),
                    "uncertain": serializers.ListField(child=serializers.IntegerField()),
                    "random": serializers.ListField(child=serializers.IntegerField()),
                    "gold_copied": serializers.IntegerField(),
                },
            ),
            400: OpenApiResponse(
                description="A bad field, or no production model of this sprint to name."
            ),
            409: OpenApiResponse(description="The model is not in production."),
        },
    )
    def post(self, request: Request, sprint_id: int) -> Response:
        source = get_object_or_404(Sprint.objects.select_related("rubric"), pk=sprint_id)
        require_sprint_role(request.user, source, SprintRole.LEAD)
        body = SelectNextSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        model = _model_for(request.user, source, values.get("model"))
        result = select_next_sprint(
            source,
            model,
            size=values["size"],
            random_share=values["random_share"],
            seed=values["seed"],
            name=values["name"],
            slug=values["slug"],
            actor=request.user,
        )
        return Response(
            {
                "sprint": result.sprint.pk,
                "slug": result.sprint.slug,
                "model": model.pk,
                "uncertain": [scored.item.pk for scored in result.uncertain],
                "random": [scored.item.pk for scored in result.random],
                "gold_copied": result.gold_copied,
            },
            status=status.HTTP_201_CREATED,
        )
