"""REST views of the model registry: list, detail, promote, and scoring (a production model
for serving, a candidate too for evaluation). Thin: the work is in
:mod:`training.services.registry` and :mod:`training.services.scoring`."""

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
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
from training.services.scoring import PURPOSES, SERVING, score_items

MAX_RESPONSES = 64
MAX_TEXT = 100_000
MAX_DOCUMENTS = 64
DOCUMENT_KEYS = frozenset({"id", "title", "text", "source"})


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
            "rendering",
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


@extend_schema_field(
    {
        "type": "array",
        "maxItems": MAX_DOCUMENTS,
        "items": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "text": {"type": "string", "maxLength": MAX_TEXT},
                "source": {"type": "string"},
            },
            "required": ["text"],
            "additionalProperties": False,
        },
    }
)
class ContextField(serializers.Field):
    """An item's context documents, as imported items hold them: a list of ``{"id", "title",
    "text", "source"}`` objects, ``text`` required; a numeric id is read as text, and a missing
    one is the document's number (1, 2, ...), as the item import fills it in, so documents
    sent as they were imported render as the training rows wrote them."""

    def to_internal_value(self, data):
        if data is None:
            return []
        if not isinstance(data, list):
            raise ValidationError("Must be a list of documents.")
        if len(data) > MAX_DOCUMENTS:
            raise ValidationError(f"At most {MAX_DOCUMENTS} documents.")
        documents = []
        for number, document in enumerate(data, start=1):
            if not isinstance(document, dict):
                raise ValidationError(f"Document {number} must be an object with a text.")
            unknown = sorted(set(document) - DOCUMENT_KEYS)
            if unknown:
                raise ValidationError(f"Document {number} has unknown field(s): {unknown}.")
            if isinstance(document.get("id"), int) and not isinstance(document["id"], bool):
                document = {**document, "id": str(document["id"])}
            for key in sorted(DOCUMENT_KEYS & set(document)):
                if document[key] is not None and not isinstance(document[key], str):
                    raise ValidationError(f"Document {number}: {key} must be text.")
            if not isinstance(document.get("text"), str):
                raise ValidationError(f"Document {number} needs a text.")
            if len(document["text"]) > MAX_TEXT:
                raise ValidationError(
                    f"Document {number}: text is longer than {MAX_TEXT} characters."
                )
            if document.get("id") is None:
                document = {**document, "id": str(number)}
            documents.append({k: v for k, v in document.items() if v is not None})
        return documents

    def to_representation(self, value):
        return value


class ScoreItemSerializer(ClosedBodySerializer):
    """One question: its prompt, its context documents (optional), its responses."""

    prompt = TextOrChatField()
    context = ContextField(required=False)
    responses = serializers.ListField(
        child=TextOrChatField(), min_length=1, max_length=MAX_RESPONSES
    )


class ScoreSerializer(ClosedBodySerializer):
    """Either one question (``prompt``, ``context``, ``responses``) or ``items``, a list of
    them (at most ``CONCORD_SCORE_MAX_ITEMS``), never both. ``purpose``: ``serving`` (the
    default: a production version only) or ``evaluation`` (a candidate too)."""

    prompt = TextOrChatField(required=False)
    context = ContextField(required=False)
    responses = serializers.ListField(
        child=TextOrChatField(), min_length=1, max_length=MAX_RESPONSES, required=False
    )
    items = serializers.ListField(child=ScoreItemSerializer(), required=False)
    purpose = serializers.ChoiceField(choices=PURPOSES, default=SERVING, required=False)

    def validate_items(self, items: list) -> list:
        limit = settings.CONCORD_SCORE_MAX_ITEMS
        if not items:
            raise ValidationError("Give at least one item.")
        if len(items) > limit:
            raise ValidationError(
                f"At most {limit} items in one request (CONCORD_SCORE_MAX_ITEMS); got {len(items)}."
            )
        return items

    def validate(self, data: dict) -> dict:
        single = sorted({"prompt", "context", "responses"} & set(data))
        if "items" in data and single:
            raise ValidationError(
                {"items": f"Give either items or one question, not both (also got {single})."}
            )
        if "items" not in data:
            missing = [name for name in ("prompt", "responses") if name not in data]
            if missing:
                raise ValidationError({name: "This field is required." for name in missing})
        return data


class SingleScore(ScoreItemSerializer):
    """Schema only: one question."""

    purpose = serializers.ChoiceField(choices=PURPOSES, default=SERVING, required=False)


class BatchScore(ClosedBodySerializer):
    """Schema only: a batch of questions (at most ``CONCORD_SCORE_MAX_ITEMS``)."""

    items = serializers.ListField(child=ScoreItemSerializer(), min_length=1)
    purpose = serializers.ChoiceField(choices=PURPOSES, default=SERVING, required=False)


class ScoresSerializer(serializers.Serializer):
    scores = serializers.ListField(child=serializers.FloatField())


class BatchScoresSerializer(serializers.Serializer):
    results = ScoresSerializer(many=True)


SCORE_REQUEST = PolymorphicProxySerializer(
    component_name="Score",
    serializers=[SingleScore, BatchScore],
    resource_type_field_name=None,
)
SCORE_RESPONSE = PolymorphicProxySerializer(
    component_name="ScoreResponse",
    serializers=[ScoresSerializer, BatchScoresSerializer],
    resource_type_field_name=None,
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
    """Score responses with a reward model: one float per response, in the order given, higher
    is better. Each question is rendered as the model's training rows were (its form, its
    context documents, its tokenizer's chat template), so a training row scores as it did in
    training. One question (``prompt``, ``context``, ``responses``) answers ``{"scores"}``;
    ``items`` (at most ``CONCORD_SCORE_MAX_ITEMS``) answers ``{"results": [{"scores"}]}`` in
    the same order, scored in length-sorted batches. ``purpose`` ``serving`` (default) scores
    with a production version only; ``evaluation`` with a candidate too, for comparing it
    before promotion. Other stages answer 409. Open to the leads of every sprint and feedback
    source of the version's dataset."""

    @extend_schema(
        request=SCORE_REQUEST,
        responses={
            200: SCORE_RESPONSE,
            409: OpenApiResponse(
                description="The model's stage does not score for this purpose (serving: "
                "production only; evaluation: candidate or production), or it is unloadable."
            ),
        },
    )
    def post(self, request: Request, model_id: int) -> Response:
        model = led_model(request.user, model_id)
        body = ScoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        purpose = data.get("purpose") or SERVING
        if "items" in data:
            results = score_items(model, data["items"], purpose=purpose, actor=request.user)
            return Response({"results": [{"scores": scores} for scores in results]})
        item = {"prompt": data["prompt"], "context": data.get("context"),
                "responses": data["responses"]}  # fmt: skip
        [scores] = score_items(model, [item], purpose=purpose, actor=request.user)
        return Response({"scores": scores})
