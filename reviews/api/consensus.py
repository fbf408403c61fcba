"""A sprint's consensus labels over the API: reviewers, leads and superusers only.

``GET /api/v1/sprints/{id}/consensus[?method=...]``: paginated ``{"results": [{"item",
"ranking", "method", "confidence", ...}]}`` in item id order. Annotators are blind to the
consensus (it is built from other people's answers) and get 403; non-members 404.
"""

from django.db.models import F
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from annotation.api.permissions import require_sprint_role
from annotation.api.schema import ConsensusAnswersField
from annotation.models import Sprint, SprintRole
from reviews.models import ConsensusLabel, ConsensusMethod


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


urlpatterns = [
    path(
        "sprints/<id:sprint_id>/consensus",
        SprintConsensusView.as_view(),
        name="sprint-consensus",
    ),
]
