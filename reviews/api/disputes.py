"""The dispute queue over the API: list, read, resolve and void. Reviewers and leads of the
dispute's sprint (and superusers) only: an annotator of the sprint gets 403, anyone else 404,
an anonymous caller 401.

- ``GET /api/v1/disputes?sprint={id}[&status=open|resolved|void|all]``: paginated (25 a page),
  oldest first; ``status`` defaults to ``all``. Each dispute carries its item, reasons,
  status, every live judgment unblinded (annotator, answers, seconds) with the annotator's
  track record, the flags, the gold ranking of a gold item and the current consensus label.
- ``GET /api/v1/disputes/{id}``: one of them.
- ``POST /api/v1/disputes/{id}/resolve`` ``{"ranking", "rationale"[, "tie", "strength",
  "answers"]}``: 200 with the adjudicated label; 400 for a bad ranking or a missing
  rationale, 409 when the dispute is not open; nothing is stored then.
- ``POST /api/v1/disputes/{id}/void`` ``{"reason"}``: 200 with the dispute.
"""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.pagination import CheckedPageNumberPagination
from annotation.api.permissions import require_sprint_role
from annotation.api.schema import AnswersField, ConsensusAnswersField
from annotation.models import Sprint, SprintRole
from annotation.services.json_limits import MAX_INTEGER
from reviews.api.consensus import ConsensusLabelSerializer
from reviews.models import Dispute, DisputeStatus
from reviews.services.dispute_details import dispute_details
from reviews.services.disputes import resolve_dispute, void_dispute

STATUS_CHOICES = [*DisputeStatus.values, "all"]


class DisputePagination(CheckedPageNumberPagination):
    page_size = 25


class DisputeQuery(serializers.Serializer):
    sprint = serializers.IntegerField(
        min_value=1, max_value=MAX_INTEGER, help_text="The sprint whose disputes to list."
    )
    status = serializers.ChoiceField(STATUS_CHOICES, default="all")


Person = inline_serializer(
    "DisputePerson", {"id": serializers.IntegerField(), "username": serializers.CharField()}
)
ConsensusLabelDocument = inline_serializer(
    "DisputeConsensus",
    {
        "ranking": serializers.ListField(child=serializers.CharField()),
        "tie": serializers.BooleanField(),
        "method": serializers.CharField(),
        "confidence": serializers.FloatField(),
        "strength": serializers.FloatField(allow_null=True),
        "agreement": serializers.FloatField(allow_null=True),
        "answers": ConsensusAnswersField(),
    },
    allow_null=True,
)
TrackRecord = inline_serializer(
    "AnnotatorTrackRecord",
    {
        "judgments": serializers.IntegerField(),
        "skipped": serializers.IntegerField(),
        "gold_items": serializers.IntegerField(),
        "gold_accuracy": serializers.FloatField(allow_null=True),
        "consensus_items": serializers.IntegerField(),
        "consensus_agreement": serializers.FloatField(allow_null=True),
    },
)
DisputeDocument = inline_serializer(
    "Dispute",
    {
        "id": serializers.IntegerField(),
        "sprint": serializers.IntegerField(),
        "status": serializers.ChoiceField(DisputeStatus.values),
        "reasons": serializers.ListField(child=serializers.CharField()),
        "opened_at": serializers.DateTimeField(),
        "resolved_at": serializers.DateTimeField(allow_null=True),
        "resolved_by": type(Person)(allow_null=True),
        "final_ranking": serializers.ListField(child=serializers.CharField(), allow_null=True),
        "final_answers": AnswersField(allow_null=True),
        "rationale": serializers.CharField(),
        "item": inline_serializer(
            "DisputeItem",
            {
                "id": serializers.IntegerField(),
                "external_id": serializers.CharField(),
                "prompt": serializers.JSONField(),
                "context": serializers.JSONField(),
                "is_gold": serializers.BooleanField(),
                "gold": serializers.ListField(child=serializers.CharField(), allow_null=True),
                "responses": serializers.ListField(
                    child=inline_serializer(
                        "DisputeResponse",
                        {"id": serializers.CharField(), "text": serializers.CharField()},
                    )
                ),
            },
        ),
        "judgments": serializers.ListField(
            child=inline_serializer(
                "UnblindedJudgment",
                {
                    "id": serializers.IntegerField(),
                    "annotator": Person,
                    "answers": AnswersField(),
                    "seen_as": serializers.DictField(
                        child=serializers.IntegerField(min_value=1),
                        help_text=(
                            "Stored response id → the N of the 'Response N' this annotator saw "
                            "(each annotator sees the responses in their own shuffled order, so "
                            "a rationale's 'Response 1' means the id mapped to 1 here)."
                        ),
                    ),
                    "seconds": serializers.FloatField(allow_null=True),
                    "created_at": serializers.DateTimeField(),
                    "track_record": TrackRecord,
                },
            )
        ),
        "flags": serializers.ListField(
            child=inline_serializer(
                "DisputeFlag",
                {
                    "annotator": Person,
                    "reason": serializers.CharField(),
                    "created_at": serializers.DateTimeField(),
                },
            )
        ),
        "consensus": ConsensusLabelDocument,
    },
)

ResolveBody = inline_serializer(
    "ResolveDispute",
    {
        "ranking": serializers.ListField(child=serializers.CharField()),
        "rationale": serializers.CharField(),
        "tie": serializers.BooleanField(required=False),
        "strength": serializers.IntegerField(required=False, min_value=1),
        "answers": AnswersField(
            required=False, help_text="Final answers to the rubric's other criteria."
        ),
    },
)
VoidBody = inline_serializer("VoidDispute", {"reason": serializers.CharField()})


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"body": "must be a JSON object"})
    return request.data


def _reviewable(request: Request, dispute_id: int) -> Dispute:
    dispute = get_object_or_404(Dispute.objects.select_related("sprint"), pk=dispute_id)
    require_sprint_role(request.user, dispute.sprint, SprintRole.REVIEWER)
    return dispute


class DisputeListView(APIView):
    """A sprint's disputes, oldest first, each with everything a reviewer needs."""

    pagination_class = DisputePagination

    @extend_schema(
        operation_id="v1_disputes_list",
        parameters=[DisputeQuery],
        responses={
            200: serializers.ListSerializer(child=DisputeDocument),
            404: OpenApiResponse(description="No such sprint visible to the caller."),
        },
    )
    def get(self, request: Request) -> Response:
        query = DisputeQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        sprint = get_object_or_404(Sprint, pk=query.validated_data["sprint"])
        require_sprint_role(request.user, sprint, SprintRole.REVIEWER)
        disputes = Dispute.objects.filter(sprint=sprint).order_by("opened_at", "id")
        if query.validated_data["status"] != "all":
            disputes = disputes.filter(status=query.validated_data["status"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(disputes, request, view=self)
        return paginator.get_paginated_response(dispute_details(list(page)))


class DisputeDetailView(APIView):
    @extend_schema(responses={200: DisputeDocument})
    def get(self, request: Request, dispute_id: int) -> Response:
        return Response(dispute_details([_reviewable(request, dispute_id)])[0])


class ResolveDisputeView(APIView):
    """Settle the dispute with the final ranking (best first) and a rationale; writes the
    item's adjudicated consensus label and an audit event."""

    @extend_schema(
        request=ResolveBody,
        responses={
            200: ConsensusLabelSerializer,
            409: OpenApiResponse(description="The dispute is not open."),
        },
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        dispute = _reviewable(request, dispute_id)
        body = _body(request)
        label = resolve_dispute(
            dispute,
            request.user,
            body.get("ranking"),
            body.get("rationale"),
            body.get("answers"),
            tie=body.get("tie") is True,
            strength=body.get("strength"),
        )
        label.external_id = label.item.external_id
        return Response(ConsensusLabelSerializer(label).data)


class VoidDisputeView(APIView):
    """Close the dispute without an answer, with a reason."""

    @extend_schema(
        request=VoidBody,
        responses={
            200: DisputeDocument,
            409: OpenApiResponse(description="The dispute is not open."),
        },
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        dispute = _reviewable(request, dispute_id)
        dispute = void_dispute(dispute, request.user, _body(request).get("reason"))
        return Response(dispute_details([dispute])[0])


urlpatterns = [
    path("disputes", DisputeListView.as_view(), name="api-disputes"),
    path("disputes/<id:dispute_id>", DisputeDetailView.as_view(), name="api-dispute"),
    path(
        "disputes/<id:dispute_id>/resolve",
        ResolveDisputeView.as_view(),
        name="api-dispute-resolve",
    ),
    path("disputes/<id:dispute_id>/void", VoidDisputeView.as_view(), name="api-dispute-void"),
]
