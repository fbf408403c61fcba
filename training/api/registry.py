"""REST views of the model registry: list, detail, promote, and scoring with a production
model. Thin: the work is in :mod:`training.services.registry` and
:mod:`training.services.scoring`."""

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.schema import ClosedBodySerializer
from training.api.access import led_model
from training.models import ModelStage, ModelVersion
from training.services.registry import models_led_by, promote_model_version
from training.services.scoring import score_responses

MAX_RESPONSES = 64
MAX_TEXT = 100_000


class ModelVersionSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="run_id")
    dataset = serializers.IntegerField(source="run.dataset_id")
    base_model = serializers.CharField(source="run.base_model")
    sprints = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    promoted_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "version",
            "stage",
            "run",
            "dataset",
            "base_model",
            "sprints",
            "metrics",
            "promoted_by",
            "promoted_at",
            "created_at",
        ]


class PromoteSerializer(ClosedBodySerializer):
    stage = serializers.ChoiceField(choices=ModelStage.choices)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": MAX_TEXT},
            {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
                    "required": ["role", "content"],
                },
            },
        ]
    }
)
class TextOrChatField(serializers.Field):
    """A string, or a non-empty list of ``{"role", "content"}`` chat messages."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            if len(data) > MAX_TEXT:
                raise ValidationError(f"At most {MAX_TEXT} characters.")
            return data
        if not isinstance(data, list) or not data:
            raise ValidationError("Must be a string or a non-empty list of chat messages.")
        for number, message in enumerate(data, start=1):
            if not (
                isinstance(message, dict)
                and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)
            ):
                raise ValidationError(f"Message {number} needs a string role and content.")
        if sum(len(message["content"]) for message in data) > MAX_TEXT:
            raise ValidationError(f"At most {MAX_TEXT} characters in all.")
        return [{"role": m["role"], "content": m["content"]} for m in data]

    def to_representation(self, value):
        return value


class ScoreSerializer(ClosedBodySerializer):
    prompt = TextOrChatField()
    responses = serializers.ListField(
        child=TextOrChatField(), min_length=1, max_length=MAX_RESPONSES
    )


class ModelVersionListView(ListAPIView):
    """Registered model versions of datasets the caller leads, by name, newest version first."""

    serializer_class = ModelVersionSerializer

    def get_queryset(self):
        return (
            models_led_by(self.request.user)
            .select_related("run", "promoted_by")
            .prefetch_related("sprints")
        )


class ModelVersionDetailView(APIView):
    @extend_schema(responses={200: ModelVersionSerializer})
    def get(self, request: Request, model_id: int) -> Response:
        return Response(ModelVersionSerializer(led_model(request.user, model_id)).data)


class PromoteView(APIView):
    """Move a version to ``candidate``, ``production`` or ``archived``. Promoting to production
    archives the name's previous production version; both changes are audited."""

    @extend_schema(request=PromoteSerializer, responses={200: ModelVersionSerializer})
    def post(self, request: Request, model_id: int) -> Response:
        model = led_model(request.user, model_id)
        body = PromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = promote_model_version(
            model, ModelStage(body.validated_data["stage"]), actor=request.user
        )
        return Response(ModelVersionSerializer(model).data)


class ScoreView(APIView):
    """Score responses to a prompt with a production reward model: one float per response, in
    the order given, higher is better. A candidate or archived version answers 409."""

    @extend_schema(
        request=ScoreSerializer,
        responses={
            200: inline_serializer(
                "Scores", {"scores": serializers.ListField(child=serializers.FloatField())}
            ),
            409: OpenApiResponse(description="The model is not in production, or unloadable."),
        },
    )
    def post(self, request: Request, model_id: int) -> Response:
        model = led_model(request.user, model_id)
        body = ScoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        scores = score_responses(
            model, body.validated_data["prompt"], body.validated_data["responses"]
        )
        return Response({"scores": scores})
