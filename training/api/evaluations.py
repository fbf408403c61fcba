"""REST views of policy evaluations: start one, list the caller's, and follow one to its blind
sprint, its automatic first look and the gate's verdict. Thin: the checks and the work are in
:mod:`training.services.evaluations`, which checks the lead rule again.

Ids in the body are looked up as the training API does everywhere: a candidate, baseline,
dataset or reward model of another team is a 404, one whose dataset the caller is a member of
but does not lead every sprint of a 403 (:mod:`training.api.access`)."""

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.job_answers import job_accepted, job_accepted_schema, queued_warning
from annotation.api.schema import ClosedBodySerializer
from annotation.models import Rubric
from annotation.services.imports.records import ROLES
from annotation.services.json_limits import MAX_INTEGER
from training.api.access import LEAD_ONLY, led_dataset, led_model, referenced, require_led
from training.api.registry import MAX_TEXT, ContextField, TextOrChatField
from training.models import PolicyEvaluation, PolicyVersion, RunStatus
from training.services.datasets import leads_any_sprint
from training.services.evaluation_cancel import cancel_evaluation
from training.services.evaluation_sprint import policy_label
from training.services.evaluations import EVALUATION_JOB, evaluations_led_by, start_evaluation
from training.services.generation import SAMPLING_OPTIONS
from training.services.policy_gate import gate_verdict, prompt_shortfall

SHORTFALL_HELP = (
    "Set when the evaluation has fewer prompts than its gate rule's min_comparisons: each "
    "prompt gives at most one comparison, so the gate cannot allow promotion from it (only a "
    "lead's written override can)."
)


def led_policy_version(user, pk: int) -> PolicyVersion:
    queryset = PolicyVersion.objects.select_related("run__dataset")
    return require_led(user, queryset, pk, dataset_path="run__dataset", what="policy")


def led_evaluation(user, pk: int) -> PolicyEvaluation:
    queryset = PolicyEvaluation.objects.select_related(
        "candidate", "baseline", "reward_model", "created_by"
    )
    return require_led(
        user, queryset, pk, dataset_path="candidate__run__dataset", what="evaluation"
    )


def gate_of(evaluation: PolicyEvaluation) -> dict | None:
    """The gate's verdict on a done evaluation (training.services.policy_gate); None before."""
    if evaluation.status != RunStatus.DONE:
        return None
    return gate_verdict(evaluation)


def _sampling_field(name: str) -> serializers.Field:
    kind, default, low, high = SAMPLING_OPTIONS[name]
    field = serializers.IntegerField if kind is int else serializers.FloatField
    return field(required=False, min_value=low, max_value=high, help_text=f"Default {default}.")


class SamplingSerializer(ClosedBodySerializer):
    """How the responses are sampled; recorded with ``batch_size`` (a server setting)."""

    max_new_tokens = _sampling_field("max_new_tokens")
    temperature = _sampling_field("temperature")
    top_p = _sampling_field("top_p")


class GateRuleSerializer(ClosedBodySerializer):
    min_comparisons = serializers.IntegerField(
        required=False, min_value=1, help_text="Default CONCORD_GATE_MIN_COMPARISONS (30)."
    )
    lower_bound_above = serializers.FloatField(
        required=False, min_value=0, max_value=1, help_text="Default 0.5."
    )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "role": {"type": "string", "enum": sorted(ROLES)},
                        "content": {"type": "string"},
                    },
                    "required": ["role", "content"],
                    "additionalProperties": False,
                },
            },
        ]
    }
)
class PromptField(TextOrChatField):
    """A prompt as the import takes it: text, or chat messages of the import's roles."""


class PromptSerializer(ClosedBodySerializer):
    """One held-out prompt, as an imported item holds it (the import's rules apply)."""

    prompt = PromptField(help_text="Text, or chat messages [{role, content}].")
    context = ContextField(required=False, help_text="The documents the model is shown.")


class StartEvaluationSerializer(ClosedBodySerializer):
    """The body of ``POST /evaluations``: give ``dataset`` or ``prompts``."""

    candidate = serializers.IntegerField(help_text="The policy version to evaluate.")
    baseline = serializers.IntegerField(
        required=False, help_text="Default: the production version of the candidate's name."
    )
    rubric = serializers.IntegerField(help_text="A ready rubric version for the blind sprint.")
    dataset = serializers.IntegerField(
        required=False, help_text="A preference dataset version you lead: its test split."
    )
    prompts = serializers.ListField(
        child=PromptSerializer(), required=False, allow_empty=True,
        help_text="Prompts with their context documents (at most CONCORD_EVALUATION_MAX_PROMPTS).",
    )  # fmt: skip
    sampling = SamplingSerializer(required=False)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**32 - 1)
    reward_model = serializers.IntegerField(
        required=False,
        help_text="A reward model you lead for the automatic first look; default: the "
        "production reward model of the candidate dataset's sprints, when there is one.",
    )
    gate = GateRuleSerializer(required=False)
    name = serializers.CharField(required=False, max_length=200, help_text="The sprint's name.")


class PolicyEvaluationSerializer(serializers.ModelSerializer):
    candidate = serializers.SerializerMethodField()
    baseline = serializers.SerializerMethodField()
    prompt_count = serializers.SerializerMethodField()
    gate_rule = serializers.JSONField(source="gate", help_text="The rule stored at the start.")
    gate = serializers.SerializerMethodField(
        help_text="Once done: the gate's verdict (allowed, reasons, human and automatic win "
        "rates with intervals, counts, rule, datasets); null before, and in the list."
    )
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    warning = serializers.SerializerMethodField(
        help_text="Set while the evaluation is queued but the workers are unreachable."
    )
    shortfall = serializers.SerializerMethodField(help_text=SHORTFALL_HELP)

    class Meta:
        model = PolicyEvaluation
        fields = [
            "id", "status", "progress", "candidate", "baseline", "rubric", "reward_model",
            "sprint", "sprint_name", "prompt_source", "prompt_count", "sampling", "seed",
            "generation", "automatic", "gate_rule", "gate", "error", "warning", "shortfall",
            "created_by",
            "created_at", "started_at", "finished_at", "heartbeat_at",
        ]  # fmt: skip

    def get_candidate(self, evaluation: PolicyEvaluation) -> dict:
        return policy_label(evaluation.candidate)

    def get_baseline(self, evaluation: PolicyEvaluation) -> dict:
        return policy_label(evaluation.baseline)

    def get_prompt_count(self, evaluation: PolicyEvaluation) -> int:
        return len(evaluation.prompts)

    def get_gate(self, evaluation: PolicyEvaluation) -> dict | None:
        return gate_of(evaluation) if self.context.get("with_gate") else None

    def get_warning(self, evaluation: PolicyEvaluation) -> str | None:
        return queued_warning(EVALUATION_JOB, evaluation, RunStatus.QUEUED)

    def get_shortfall(self, evaluation: PolicyEvaluation) -> str | None:
        return prompt_shortfall(evaluation)


EvaluationAccepted = job_accepted_schema(
    "EvaluationAccepted",
    "evaluation",
    status_url="progress and the result",
    extra={"shortfall": serializers.CharField(required=False, help_text=SHORTFALL_HELP)},
)


class EvaluationListView(ListAPIView):
    """``GET``: the evaluations of candidates the caller leads, newest first
    (``?candidate=<id>`` for one policy's). ``POST``: start one on the ``gpu`` queue; 202 with
    its id and status URL, then poll ``GET /evaluations/{id}``."""

    serializer_class = PolicyEvaluationSerializer

    def get_queryset(self) -> QuerySet[PolicyEvaluation]:
        queryset = evaluations_led_by(self.request.user).select_related(
            "candidate", "baseline", "created_by"
        )
        candidate = self.request.query_params.get("candidate")
        if candidate is not None:
            try:
                candidate_id = int(candidate)
            except ValueError:
                candidate_id = None
            if candidate_id is None or abs(candidate_id) > MAX_INTEGER:
                raise ValidationError({"candidate": "Must be a policy version id."})
            queryset = queryset.filter(candidate_id=candidate_id)
        return queryset

    @extend_schema(
        parameters=[OpenApiParameter("candidate", int, description="Only this policy's.")]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=StartEvaluationSerializer,
        responses={
            202: EvaluationAccepted,
            400: OpenApiResponse(
                description="A bad field (named in errors), a rubric that is not ready, no "
                "production baseline, bad prompts or sampling; nothing stored."
            ),
            403: OpenApiResponse(description="The caller does not lead the policy's dataset."),
            404: OpenApiResponse(description="No such policy, dataset or reward model."),
        },
    )
    def post(self, request: Request) -> Response:
        if not leads_any_sprint(request.user):
            raise PermissionDenied(LEAD_ONLY)
        body = StartEvaluationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        user = request.user
        candidate = referenced(led_policy_version, user, values.pop("candidate"), "candidate")
        refs = {
            field: referenced(lookup, user, values.pop(field), field)
            for field, lookup in (
                ("baseline", led_policy_version), ("dataset", led_dataset),
                ("reward_model", led_model),
            )
            if values.get(field) is not None
        }  # fmt: skip
        evaluation = start_evaluation(
            candidate,
            actor=user,
            rubric=Rubric.objects.filter(pk=values.pop("rubric")).first(),
            baseline=refs.get("baseline"),
            dataset=refs.get("dataset"),
            reward_model=refs.get("reward_model"),
            prompts=[dict(p) for p in values["prompts"]] if "prompts" in values else None,
            sampling=values.get("sampling"),
            seed=values["seed"],
            gate=values.get("gate"),
            name=values.get("name"),
        )
        answer = job_accepted(request, EVALUATION_JOB, evaluation, "api-evaluation")
        shortfall = prompt_shortfall(evaluation)
        if shortfall:
            answer.data["shortfall"] = shortfall
        return answer


class EvaluationDetailView(APIView):
    """Status, progress, the recorded sampling and seed, what generating cost, the blind
    sprint, the automatic first look, and (once done) the gate's verdict."""

    @extend_schema(responses={200: PolicyEvaluationSerializer})
    def get(self, request: Request, evaluation_id: int) -> Response:
        evaluation = led_evaluation(request.user, evaluation_id)
        return Response(PolicyEvaluationSerializer(evaluation, context={"with_gate": True}).data)


class EvaluationCancelView(APIView):
    """Cancel an evaluation: a queued one is never started, a running one stops at its
    worker's next progress write; no blind sprint is made. 409 once it has finished."""

    @extend_schema(
        request=None,
        responses={
            200: PolicyEvaluationSerializer,
            403: OpenApiResponse(description="The caller does not lead the policy's dataset."),
            404: OpenApiResponse(description="No such evaluation that the caller can see."),
            409: OpenApiResponse(description="The evaluation has already finished."),
        },
    )
    def post(self, request: Request, evaluation_id: int) -> Response:
        evaluation = cancel_evaluation(
            led_evaluation(request.user, evaluation_id), actor=request.user
        )
        return Response(PolicyEvaluationSerializer(evaluation).data)


urlpatterns = [
    path("evaluations", EvaluationListView.as_view(), name="api-evaluations"),
    path(
        "evaluations/<id:evaluation_id>",
        EvaluationDetailView.as_view(),
        name="api-evaluation",
    ),
    path(
        "evaluations/<id:evaluation_id>/cancel",
        EvaluationCancelView.as_view(),
        name="api-evaluation-cancel",
    ),
]
