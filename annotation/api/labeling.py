"""The annotator's API: next item, submit, skip, and my own judgments.

What an annotator can reach here is blind by construction: an item is served without its
metadata, model names or gold answer, responses in an order fixed per assignment (so position
says nothing about the source), and judgments are only ever the caller's own.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import require_sprint_role
from annotation.api.schema import ANSWERS_EXAMPLE, AnswersField
from annotation.models import Criterion, ItemFlag, Judgment, Rubric, Sprint, SprintRole
from annotation.services.access import own_judgments
from annotation.services.errors import ConcordError
from annotation.services.flags import flag_item
from annotation.services.json_limits import MAX_INTEGER
from annotation.services.judgments import MAX_SECONDS, skip_assignment, submit_judgment
from annotation.services.labeling_rubrics import labeling_rubric
from annotation.services.queue import NotAMember, QueueClosed, next_assignment
from annotation.services.serving import served_item


class CriterionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Criterion
        fields = ["name", "kind", "question", "help_text", "required", "config"]


class RubricSerializer(serializers.ModelSerializer):
    """The rubric's shape in the API schema. Responses are built from the per-process cache
    (``labeling_rubric(...).payload``), which a test holds equal to this serializer's output."""

    criteria = CriterionSerializer(many=True, read_only=True)

    class Meta:
        model = Rubric
        fields = ["id", "name", "version", "guidelines", "criteria"]


NextItem = inline_serializer(
    "NextItem",
    {
        "assignment": serializers.IntegerField(),
        "lease_expires_at": serializers.DateTimeField(),
        "item": serializers.JSONField(),
        "rubric": RubricSerializer(),
    },
)


class NextItemView(APIView):
    """The caller's current or next item in a sprint; 204 when their queue is empty.

    Labeling needs a membership (any role is at least annotator), and the queue reads it under
    lock anyway, so the check costs no query of its own: a caller without one gets 404, as for
    any sprint they cannot see, except a superuser (a lead everywhere), who gets 403 and is
    told to join."""

    @extend_schema(
        responses={
            200: NextItem,
            204: OpenApiResponse(description="The caller's queue is empty."),
            409: OpenApiResponse(description="The sprint is not active."),
        }
    )
    def get(self, request: Request, sprint_id: int) -> Response:
        try:
            assignment = next_assignment(sprint_id, request.user)
        except NotAMember as outsider:
            sprint = get_object_or_404(Sprint, pk=sprint_id)
            require_sprint_role(request.user, sprint, SprintRole.ANNOTATOR)  # 404 if no role
            raise ConcordError(str(outsider), status.HTTP_403_FORBIDDEN) from outsider
        except QueueClosed as closed:
            raise ConcordError(str(closed), status.HTTP_409_CONFLICT) from closed
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            {
                "assignment": assignment.pk,
                "lease_expires_at": assignment.lease_expires_at,
                "item": served_item(assignment),
                "rubric": labeling_rubric(assignment.sprint.rubric).payload,
            }
        )


class SubmitSerializer(serializers.Serializer):
    assignment = serializers.IntegerField()
    answers = AnswersField()
    seconds = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=MAX_SECONDS
    )


class JudgmentSerializer(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id")
    assignment = serializers.IntegerField(source="assignment_id")
    sprint = serializers.IntegerField(source="sprint_id")
    rubric_version = serializers.IntegerField(source="rubric.version")
    supersedes = serializers.IntegerField(source="supersedes_id", allow_null=True)
    live = serializers.SerializerMethodField()
    answers = AnswersField()

    class Meta:
        model = Judgment
        fields = [
            "id",
            "sprint",
            "item",
            "assignment",
            "answers",
            "seconds",
            "rubric_version",
            "supersedes",
            "live",
            "created_at",
        ]

    def get_live(self, judgment: Judgment) -> bool:
        return not hasattr(judgment, "superseded_by")


class JudgmentQuery(serializers.Serializer):
    sprint = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_INTEGER,
        help_text="Only judgments in this sprint.",
    )
    live = serializers.BooleanField(
        required=False, help_text="true: only live judgments (not revised since)."
    )


class JudgmentListView(ListAPIView):
    """``POST``: submit (or revise) with an ``Idempotency-Key`` header. ``GET``: my judgments,
    newest first, optionally of one ``sprint`` and only ``live`` ones."""

    serializer_class = JudgmentSerializer

    def get_queryset(self):
        queryset = (
            own_judgments(self.request.user)
            .select_related("rubric", "superseded_by")
            .order_by("-created_at", "-id")
        )
        query = JudgmentQuery(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        if "sprint" in query.validated_data:
            queryset = queryset.filter(sprint_id=query.validated_data["sprint"])
        if query.validated_data.get("live"):
            queryset = queryset.filter(superseded_by__isnull=True)
        return queryset

    @extend_schema(parameters=[JudgmentQuery])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=SubmitSerializer,
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)
        ],
        responses={
            201: inline_serializer("Submitted", {"id": serializers.IntegerField()}),
            200: inline_serializer("Replayed", {"id": serializers.IntegerField()}),
            404: OpenApiResponse(description="No such assignment of the caller's."),
        },
        examples=[
            OpenApiExample(
                "Answers to a rubric of a preference, a Likert, a flag and a text criterion",
                value={"assignment": 1, "answers": ANSWERS_EXAMPLE, "seconds": 42.5},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body = SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = submit_judgment(
            request.user,
            body.validated_data["assignment"],
            request.data.get("answers"),
            seconds=body.validated_data.get("seconds"),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return Response({"id": outcome.judgment.pk}, status=code)


class JudgmentDetailView(RetrieveAPIView):
    """One of my judgments; anyone else's is 404, never 403, so ids reveal nothing."""

    serializer_class = JudgmentSerializer

    def get_queryset(self):
        return own_judgments(self.request.user).select_related("rubric", "superseded_by")


def _reason(request: Request):
    """The ``reason`` of a JSON or form body; ``None`` when the body is not an object."""
    return request.data.get("reason") if hasattr(request.data, "get") else None


class SkipView(APIView):
    @extend_schema(
        request=inline_serializer("Skip", {"reason": serializers.CharField()}),
        responses={
            200: inline_serializer(
                "Skipped",
                {"assignment": serializers.IntegerField(), "status": serializers.CharField()},
            )
        },
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        reason = _reason(request)
        assignment = skip_assignment(
            request.user, assignment_id, reason if isinstance(reason, str) else ""
        )
        return Response({"assignment": assignment.pk, "status": assignment.status})


class ItemFlagSerializer(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id")

    class Meta:
        model = ItemFlag
        fields = ["id", "item", "reason", "created_at"]


class FlagView(APIView):
    """Flag the item of one of my assignments (leased or submitted) as broken, unsafe or
    unanswerable, with a reason of at most 500 characters. It neither answers the item nor
    ends the assignment. 201 with the new flag; 200 with the flag already stored when I
    flagged this item before (nothing new is stored); 404 for an assignment not mine."""

    @extend_schema(
        request=inline_serializer("Flag", {"reason": serializers.CharField(max_length=500)}),
        responses={201: ItemFlagSerializer, 200: ItemFlagSerializer},
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        outcome = flag_item(request.user, assignment_id, _reason(request))
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return Response(ItemFlagSerializer(outcome.flag).data, status=code)
