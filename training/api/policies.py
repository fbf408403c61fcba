"""REST views of the policy registry: list, detail (with each evaluation's gate verdict),
promotion through the gate, rollback (policies and reward models), and the registries' events
(the webhook payloads). Thin: the work is in :mod:`training.services.policy_gate` and
:mod:`training.services.stages`, which check the lead rule again."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.schema import ClosedBodySerializer
from training.api.access import led_model, require_led
from training.api.registry import ModelVersionSerializer
from training.models import ModelStage, PolicyEvaluation, PolicyVersion, RegistryEvent
from training.services.policy_gate import gate_verdict, promote_policy
from training.services.policy_registry import policies_led_by
from training.services.stages import MAX_REASON, events_led_by, rollback

REFUSED = OpenApiResponse(
    description="Refused: the gate's reasons, no earlier version, artifacts gone, or a "
    "version not in production (rollback)."
)


def led_policy(user: AbstractBaseUser, pk: int) -> PolicyVersion:
    queryset = PolicyVersion.objects.select_related("run__dataset", "promoted_by")
    return require_led(user, queryset, pk, dataset_path="run__dataset", what="policy")


class PolicyVersionSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="run_id")
    dataset = serializers.IntegerField(source="run.dataset_id")
    sprints = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    promoted_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = PolicyVersion
        fields = [
            "id",
            "name",
            "version",
            "label",
            "stage",
            "run",
            "dataset",
            "base_model",
            "adapter",
            "sprints",
            "metrics",
            "rendering",
            "promoted_by",
            "promoted_at",
            "created_at",
        ]


class EvaluationVerdictSerializer(serializers.ModelSerializer):
    """An evaluation of the policy as the gate sees it: its verdict (``allowed``,
    ``reasons``, ``human``, ``automatic``, ``rule``, ``datasets``, ``leaderboard``)."""

    verdict = serializers.SerializerMethodField()

    class Meta:
        model = PolicyEvaluation
        fields = ["id", "status", "baseline", "sprint", "sprint_name", "created_at", "verdict"]

    def get_verdict(self, evaluation: PolicyEvaluation) -> dict:
        return gate_verdict(evaluation)


class PolicyDetailSerializer(PolicyVersionSerializer):
    evaluations = EvaluationVerdictSerializer(many=True, read_only=True)

    class Meta(PolicyVersionSerializer.Meta):
        fields = [*PolicyVersionSerializer.Meta.fields, "evaluations"]


class PromotePolicySerializer(ClosedBodySerializer):
    """``stage``; to production, ``evaluation`` (default: the newest done evaluation against
    production) and ``override_reason`` (promotes although the gate refuses; audited)."""

    stage = serializers.ChoiceField(choices=ModelStage.choices)
    evaluation = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    # Given, it must say something: a blank reason is a 400 here, not a gate refusal.
    override_reason = serializers.CharField(required=False, max_length=MAX_REASON)


class RollbackSerializer(ClosedBodySerializer):
    reason = serializers.CharField(max_length=MAX_REASON)


class RegistryEventSerializer(serializers.Serializer):
    """The event as a webhook sends it (``RegistryEvent.payload``)."""

    id = serializers.IntegerField()
    registry = serializers.ChoiceField(choices=["reward", "policy"])
    event = serializers.ChoiceField(choices=["promoted", "archived", "rolled_back", "demoted"])
    name = serializers.CharField()
    version = serializers.IntegerField()
    version_id = serializers.IntegerField()
    previous_id = serializers.IntegerField(allow_null=True)
    actor = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    override = serializers.BooleanField()
    evidence = serializers.JSONField()
    created_at = serializers.DateTimeField()

    def to_representation(self, event: RegistryEvent) -> dict:
        return event.payload()


class PolicyListView(ListAPIView):
    """Policy versions of datasets the caller leads, by name, newest version first."""

    serializer_class = PolicyVersionSerializer

    def get_queryset(self) -> QuerySet[PolicyVersion]:
        return (
            policies_led_by(self.request.user)
            .select_related("run", "promoted_by")
            .prefetch_related("sprints")
        )


class PolicyDetailView(APIView):
    @extend_schema(responses={200: PolicyDetailSerializer})
    def get(self, request: Request, policy_id: int) -> Response:
        return Response(PolicyDetailSerializer(led_policy(request.user, policy_id)).data)


class PolicyPromoteView(APIView):
    """Move a policy to ``candidate``, ``production`` or ``archived``. To production through
    the gate: allowed without evidence for a name never in production; otherwise the
    evaluation's verdict must allow, or ``override_reason`` overrides it (kept on the registry
    event, audited); 409 with the verdict's reasons otherwise."""

    @extend_schema(
        request=PromotePolicySerializer,
        responses={200: PolicyVersionSerializer, 409: REFUSED},
    )
    def post(self, request: Request, policy_id: int) -> Response:
        policy = led_policy(request.user, policy_id)
        body = PromotePolicySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        evaluation = None
        if data.get("evaluation") is not None:
            evaluation = PolicyEvaluation.objects.filter(
                pk=data["evaluation"], candidate=policy
            ).first()
            if evaluation is None:
                raise ValidationError({"evaluation": "No such evaluation of this policy."})
        policy = promote_policy(
            policy,
            actor=request.user,
            stage=data["stage"],
            evaluation=evaluation,
            override_reason=data.get("override_reason", ""),
        )
        return Response(PolicyVersionSerializer(policy).data)


def rolled_back(request: Request, version, serializer: type[serializers.Serializer]) -> Response:
    """Roll back from ``version`` (already found for the caller) with the body's ``reason``;
    the version now in production, as ``serializer`` shows it."""
    body = RollbackSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    target = rollback(version, actor=request.user, reason=body.validated_data["reason"])
    return Response(serializer(target).data)


class PolicyRollbackView(APIView):
    """Return production of the policy's name to the version that held it before. The path
    names the current production version; anything else is a 409, as are no earlier version
    and an earlier version whose artifacts are gone. ``reason`` is required."""

    @extend_schema(
        request=RollbackSerializer, responses={200: PolicyVersionSerializer, 409: REFUSED}
    )
    def post(self, request: Request, policy_id: int) -> Response:
        return rolled_back(request, led_policy(request.user, policy_id), PolicyVersionSerializer)


class ModelRollbackView(APIView):
    """The same rollback for a reward model: the path names its name's production version."""

    @extend_schema(
        request=RollbackSerializer, responses={200: ModelVersionSerializer, 409: REFUSED}
    )
    def post(self, request: Request, model_id: int) -> Response:
        return rolled_back(request, led_model(request.user, model_id), ModelVersionSerializer)


@extend_schema(
    parameters=[
        OpenApiParameter("registry", str, enum=["reward", "policy"], required=False),
        OpenApiParameter("name", str, required=False),
    ]
)
class RegistryEventListView(ListAPIView):
    """Promotions, archivings and rollbacks of the versions the caller leads, newest first,
    each as its webhook payload; ``registry`` and ``name`` narrow them."""

    serializer_class = RegistryEventSerializer

    def get_queryset(self) -> QuerySet[RegistryEvent]:
        events = events_led_by(self.request.user)
        registry = self.request.query_params.get("registry")
        if registry is not None:
            if registry not in ("reward", "policy"):
                raise ValidationError({"registry": "Either reward or policy."})
            events = events.filter(registry=registry)
        name = self.request.query_params.get("name")
        if name:
            events = events.filter(name=name)
        return events


urlpatterns = [
    path("policies", PolicyListView.as_view(), name="api-policies"),
    path("policies/<id:policy_id>", PolicyDetailView.as_view(), name="api-policy"),
    path("policies/<id:policy_id>/promote", PolicyPromoteView.as_view(), name="api-policy-promote"),
    path(
        "policies/<id:policy_id>/rollback",
        PolicyRollbackView.as_view(),
        name="api-policy-rollback",
    ),
    path("models/<id:model_id>/rollback", ModelRollbackView.as_view(), name="api-model-rollback"),
    path("registry-events", RegistryEventListView.as_view(), name="api-registry-events"),
]
