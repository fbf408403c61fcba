"""The model leaderboard over the API: the sprints' leads and superusers only.

``GET /api/v1/sprints/{id}/leaderboard`` and ``GET /api/v1/leaderboard?sprints=1,2,3`` answer
:func:`reviews.services.leaderboard_access.leaderboard_for`, which holds the rule and why:
the leaderboard tells which model wrote the responses people preferred, and reviewers label
too, so a reviewer or annotator gets 403 and a non-member 404. Several sprints need the lead
role in every one of them: any sprint the caller cannot see makes the whole call a 404
(checked for all sprints first, so the answer never tells which of them exist), then any where
the role is lower a 403.
"""

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reviews.services.leaderboard import DEFAULT_BOOTSTRAP, SOURCES
from reviews.services.leaderboard_access import leaderboard_for

MAX_BOOTSTRAP = 2000
MAX_SPRINTS = 100


class LeaderboardQuery(serializers.Serializer):
    source = serializers.ChoiceField(
        SOURCES,
        default="consensus",
        help_text="consensus: one vote per item (its consensus label); judgments: every live "
        "judgment.",
    )
    bootstrap = serializers.IntegerField(
        min_value=0,
        max_value=MAX_BOOTSTRAP,
        default=DEFAULT_BOOTSTRAP,
        help_text="Bootstrap rounds over resampled items; 0: no interval.",
    )
    seed = serializers.IntegerField(
        min_value=0, max_value=2**32 - 1, default=0, help_text="Seed of the bootstrap."
    )


# At most MAX_SPRINTS positive ids of at most 18 digits (below 2**63), so that every list the
# schema allows is one the view accepts.
SPRINT_LIST = rf"^[1-9][0-9]{{0,17}}(,[1-9][0-9]{{0,17}}){{0,{MAX_SPRINTS - 1}}}$"


class SprintsLeaderboardQuery(LeaderboardQuery):
    sprints = serializers.RegexField(
        SPRINT_LIST,
        help_text=f"Comma-separated sprint ids (at most {MAX_SPRINTS}), e.g. 1,2,3; the caller "
        "must lead each.",
        error_messages={
            "invalid": f"Sprint ids are positive integers, comma-separated, at most {MAX_SPRINTS}."
        },
    )

    def validate_sprints(self, value: str) -> list[int]:
        return list(dict.fromkeys(int(part) for part in value.split(",")))


LeaderboardModel = inline_serializer(
    "LeaderboardModel",
    {
        "rank": serializers.IntegerField(help_text="Rank within the model's component, from 1."),
        "model": serializers.CharField(help_text="model_name, or model_name@model_version."),
        "rating": serializers.FloatField(
            help_text="Elo scale, mean 1000 per connected part; one decimal, rounded half away "
            "from zero."
        ),
        "ci": serializers.ListField(
            child=serializers.FloatField(allow_null=True),
            help_text="95 % interval: the union of the bootstrap interval over items and "
            "a Wald interval from the fit's information (so a model with little data gets a wide "
            "one); one decimal.",
        ),
        "comparisons": serializers.IntegerField(help_text="Battles the model took part in."),
        "wins": serializers.IntegerField(),
        "losses": serializers.IntegerField(),
        "ties": serializers.IntegerField(),
        "component": serializers.IntegerField(
            help_text="Connected part of the comparison graph, numbered from 1, largest "
            "first; ratings and ranks compare only within one."
        ),
    },
)

LeaderboardReport = inline_serializer(
    "Leaderboard",
    {
        "models": serializers.ListField(child=LeaderboardModel),
        "win_rates": inline_serializer(
            "WinRates",
            {
                "models": serializers.ListField(child=serializers.CharField()),
                "rates": serializers.ListField(
                    child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
                    help_text="rates[i][j]: share of battles model i won against model j, "
                    "ties counted half; null where they never met.",
                ),
                "comparisons": serializers.ListField(
                    child=serializers.ListField(child=serializers.IntegerField()),
                    help_text="comparisons[i][j]: battles between models i and j.",
                ),
            },
        ),
        "items": serializers.IntegerField(help_text="Items with at least one battle."),
        "battles": serializers.IntegerField(),
        "connected": serializers.BooleanField(),
        "skipped": inline_serializer(
            "LeaderboardSkipped",
            {
                "responses_without_model": serializers.IntegerField(),
                "same_model_pairs": serializers.IntegerField(),
            },
        ),
        "scale": inline_serializer(
            "LeaderboardScale",
            {
                "base": serializers.FloatField(),
                "per_logit": serializers.FloatField(),
                "prior": serializers.FloatField(),
            },
        ),
        "sprints": serializers.ListField(child=serializers.IntegerField()),
        "source": serializers.ChoiceField(SOURCES),
        "bootstrap": serializers.IntegerField(),
        "seed": serializers.IntegerField(),
    },
)


def _answer(request: Request, sprint_ids: list[int], query: dict) -> Response:
    return Response(
        leaderboard_for(
            request.user,
            sprint_ids,
            source=query["source"],
            bootstrap=query["bootstrap"],
            seed=query["seed"],
        )
    )


class SprintLeaderboardView(APIView):
    """Bradley-Terry ratings of the sprint's response models with bootstrap 95 % intervals,
    the pairwise win-rate matrix with counts, and the comparisons behind each model; for the
    sprint's leads."""

    @extend_schema(
        parameters=[LeaderboardQuery],
        responses={
            200: LeaderboardReport,
            403: OpenApiResponse(description="The caller is a member but not a lead."),
            404: OpenApiResponse(description="No such sprint, or the caller is no member."),
        },
    )
    def get(self, request: Request, sprint_id: int) -> Response:
        query = LeaderboardQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        return _answer(request, [sprint_id], query.validated_data)


class LeaderboardView(APIView):
    """The leaderboard of several sprints together (their items pooled), for a caller who
    leads every one."""

    @extend_schema(
        parameters=[SprintsLeaderboardQuery],
        responses={
            200: LeaderboardReport,
            403: OpenApiResponse(description="The caller does not lead every sprint named."),
            404: OpenApiResponse(
                description="A sprint named is unknown, or the caller is no member of it."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        data = request.query_params.dict()
        if "sprints" in request.query_params:
            data["sprints"] = ",".join(request.query_params.getlist("sprints"))
        query = SprintsLeaderboardQuery(data=data)
        query.is_valid(raise_exception=True)
        return _answer(request, query.validated_data["sprints"], query.validated_data)


urlpatterns = [
    path(
        "sprints/<id:sprint_id>/leaderboard",
        SprintLeaderboardView.as_view(),
        name="sprint-leaderboard-api",
    ),
    path("leaderboard", LeaderboardView.as_view(), name="leaderboard-api"),
]
