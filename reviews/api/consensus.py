"""A sprint's consensus labels over the API: reviewers, leads and superusers only.

``GET /api/v1/sprints/{id}/consensus[?method=...]``: paginated ``{"results": [{"item",
"ranking", "method", "confidence", ...}]}`` in item id order. Annotators are blind to the
consensus (it is built from other people's answers) and get 403; non-members 404.

``POST /api/v1/sprints/{id}/consensus/recompute``: recompute every label and the disputes now
(:func:`reviews.services.recompute.recompute_sprint`), for a deployment or a moment without a
worker; answers the counts.
"""

from django.db.models import F
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import require_sprint_role
from annotation.api.schema import ConsensusAnswersField
from annotation.models import Sprint, SprintRole
from reviews.models import ConsensusLabel, ConsensusMethod
from reviews.services.recompute import recompute_sprint


class ConsensusLabelSerializer(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id")
    external_id = serializers.CharField()
    judgments = serializers.ListField(source="judgment_ids", child=serializers.IntegerField())
    ranking = serializers.ListField(
        child=serializers.CharField(), help_text="Response ids, best first; [] for a tie."
    )
    answers = ConsensusAnswersField()

    class Meta:
        model = ConsensusLabel
        fields = [
            "item",
            "external_id",
            "ranking",
            "tie",
            "method",
            "confidence",
            "strength",
            "agreement",
            "answers",
            "judgments",
            "updated_at",
        ]


class MethodQuery(serializers.Serializer):
    method = serializers.ChoiceField(
        ConsensusMethod.choices, required=False, help_text="Only labels of this method."
    )


class SprintConsensusView(ListAPIView):
    """Every consensus label of the sprint, by item id; ``method`` keeps one method's."""

    serializer_class = ConsensusLabelSerializer

    def get_queryset(self):
        sprint = get_object_or_404(Sprint, pk=self.kwargs["sprint_id"])
        require_sprint_role(self.request.user, sprint, SprintRole.REVIEWER)
        query = MethodQuery(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        labels = (
            ConsensusLabel.objects.filter(sprint=sprint)
            .annotate(external_id=F("item__external_id"))
            .order_by("item_id")
        )
        if "method" in query.validated_data:
            labels = labels.filter(method=query.validated_data["method"])
        return labels

    @extend_schema(parameters=[MethodQuery])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RecomputeView(APIView):
    """Recompute the sprint's consensus and disputes now, without waiting for a worker."""

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "ConsensusRecomputed",
                {
                    "items": serializers.IntegerField(help_text="Items with at least one vote."),
                    "labelled": serializers.IntegerField(),
                    "written": serializers.IntegerField(help_text="Labels inserted or changed."),
                    "adjudicated": serializers.IntegerField(help_text="Adjudicated, kept."),
                    "undecided": serializers.IntegerField(),
                    "methods": serializers.DictField(child=serializers.IntegerField()),
                    "disputes_opened": serializers.IntegerField(),
                    "disputes_extended": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request: Request, sprint_id: int) -> Response:
        sprint = get_object_or_404(Sprint, pk=sprint_id)
        return Response(recompute_sprint(request.user, sprint))


urlpatterns = [
    path(
        "sprints/<id:sprint_id>/consensus",
        SprintConsensusView.as_view(),
        name="sprint-consensus",
    ),
    path(
        "sprints/<id:sprint_id>/consensus/recompute",
        RecomputeView.as_view(),
        name="api-consensus-recompute",
    ),
]
