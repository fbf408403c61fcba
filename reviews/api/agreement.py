"""The sprint's agreement report over the API: reviewers, leads and superusers only.

Annotators are blind to each other's answers, and the report's per-annotator figures and
per-criterion agreement speak about other people's judgments, so an annotator gets 403 (and a
non-member 404, as for every sprint-scoped call).
"""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import require_sprint_role
from annotation.models import Sprint, SprintRole
from reviews.services.agreement import sprint_agreement

MAX_BOOTSTRAP = 5000


class AgreementQuery(serializers.Serializer):
    bootstrap = serializers.IntegerField(
        min_value=0, max_value=MAX_BOOTSTRAP, default=1000, help_text="Bootstrap resamples."
    )
    seed = serializers.IntegerField(
        min_value=0, max_value=2**32 - 1, default=0, help_text="Seed of the bootstrap."
    )
    until = serializers.DateTimeField(
        required=False, help_text="ISO 8601 time: the sprint as it stood then."
    )


CriterionFigures = inline_serializer(
    "CriterionAgreement",
    {
        "alpha": serializers.FloatField(allow_null=True),
        "ci": serializers.ListField(child=serializers.FloatField(allow_null=True)),
        "level": serializers.ChoiceField(["nominal", "ordinal", "interval", "ratio"]),
        "percent_agreement": serializers.FloatField(allow_null=True),
        "items": serializers.IntegerField(),
        "judgments": serializers.IntegerField(),
    },
)

AnnotatorFigures = inline_serializer(
    "AnnotatorAgreement",
    {
        "annotator": serializers.IntegerField(),
        "username": serializers.CharField(),
        "pseudonym": serializers.CharField(),
        "judgments": serializers.IntegerField(),
        "consensus_agreement": serializers.FloatField(allow_null=True),
        "consensus_units": serializers.IntegerField(),
        "gold_accuracy": serializers.FloatField(allow_null=True),
        "gold_items": serializers.IntegerField(),
        "median_seconds": serializers.FloatField(allow_null=True),
        "skip_rate": serializers.FloatField(allow_null=True),
        "outlier": serializers.BooleanField(),
        "outlier_reasons": serializers.ListField(child=serializers.CharField()),
    },
)

AgreementReport = inline_serializer(
    "AgreementReport",
    {
        "items": serializers.IntegerField(),
        "judgments": serializers.IntegerField(),
        "criteria": serializers.DictField(child=CriterionFigures),
        "annotators": serializers.ListField(child=AnnotatorFigures),
    },
)


class SprintAgreementView(APIView):
    """Krippendorff's alpha per criterion with a bootstrap 95% interval, percent agreement and
    per-annotator quality figures, over the sprint's live judgments (or as it stood at
    ``until``)."""

    @extend_schema(
        parameters=[AgreementQuery],
        responses={200: AgreementReport},
    )
    def get(self, request: Request, sprint_id: int) -> Response:
        sprint = get_object_or_404(Sprint.objects.select_related("rubric"), pk=sprint_id)
        require_sprint_role(request.user, sprint, SprintRole.REVIEWER)
        query = AgreementQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        report = sprint_agreement(
            sprint,
            bootstrap=query.validated_data["bootstrap"],
            seed=query.validated_data["seed"],
            until=query.validated_data.get("until"),
        )
        return Response(report)


urlpatterns = [
    path(
        "sprints/<id:sprint_id>/agreement",
        SprintAgreementView.as_view(),
        name="sprint-agreement",
    ),
]
