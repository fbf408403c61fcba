"""REST views of training runs: start, list, status, cancel. Thin: the work is in
:mod:`training.services.runs`."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.job_answers import job_accepted_schema
from annotation.api.schema import ClosedBodySerializer
from annotation.services.errors import ConcordError
from annotation.services.jobs import queue_warning
from training.api.access import LEAD_ONLY, led_dataset, led_run
from training.models import RunKind, RunStatus, TrainingRun
from training.services.base_model_catalog import listed_base_models
from training.services.datasets import leads_any_sprint
from training.services.policy_config import LOSS_TYPES
from training.services.registry import runs_led_by
from training.services.run_options import CHOICE_OPTIONS, FLOAT_OPTIONS, INT_OPTIONS
from training.services.runs import (
    TRAINING_JOB,
    RunFinished,
    cancel_training_run,
    start_training_run,
)


def _int(name: str) -> serializers.IntegerField:
    low, high = INT_OPTIONS[name]
    return serializers.IntegerField(required=False, min_value=low, max_value=high)


def _float(name: str) -> serializers.FloatField:
    low, high = FLOAT_OPTIONS[name]
    return serializers.FloatField(required=False, min_value=low, max_value=high)


class StartRunSerializer(ClosedBodySerializer):
    """The body of ``POST /training-runs``; options left out take the trainer's defaults. A
    run's kind takes its own options: one of the other kind is a 400 naming it."""

    dataset = serializers.IntegerField(help_text="Id of a done preference dataset version.")
    kind = serializers.ChoiceField(
        choices=RunKind.values,
        required=False,
        default=RunKind.REWARD,
        help_text="reward (the default): a reward model; dpo: a policy fine-tuned with DPO "
        "(TRL's DPOTrainer), registered in the policy registry.",
    )
    base_model = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text=(
            "`model:<id>` (reward) or `policy:<id>` (dpo): a registered version you lead, "
            "trained further from its weights. Otherwise a directory name or absolute path "
            "under the operator's CONCORD_BASE_MODEL_ROOTS. Default for reward runs: the "
            "packaged all-MiniLM-L6-v2; a dpo run must name one. Anything else is a 400 on "
            "`base_model`, with one message whether or not the path exists."
        ),
    )
    name = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Registry name; default: reward-<sprints> (reward), policy-<sprints> (dpo).",
    )
    epochs = _int("epochs")
    batch_size = _int("batch_size")
    gradient_accumulation = _int("gradient_accumulation")
    max_length = serializers.IntegerField(
        required=False, help_text="Tokens per sequence: 8-8192 (reward), 8-32768 (dpo)."
    )
    patience = _int("patience")
    seed = _int("seed")
    learning_rate = _float("learning_rate")
    weight_decay = _float("weight_decay")
    warmup_ratio = _float("warmup_ratio")
    pooling = serializers.ChoiceField(
        choices=CHOICE_OPTIONS["pooling"],
        required=False,
        help_text="mean: a linear head on the mean of the token states (the default); model: "
        "the architecture's own classification head.",
    )
    use_margin = serializers.BooleanField(required=False)
    bf16 = serializers.BooleanField(required=False)
    device = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="cpu, cuda, cuda:N (reward only) or mps; null: automatic.",
    )
    # dpo runs only (bounds checked by training.services.policy_options).
    beta = serializers.FloatField(required=False, help_text="dpo: above 0, at most 10 (0.1).")
    loss_type = serializers.ChoiceField(
        choices=LOSS_TYPES, required=False, help_text="dpo: TRL's DPO loss (sigmoid)."
    )
    lora = serializers.BooleanField(required=False, help_text="dpo: train a LoRA adapter.")
    lora_r = serializers.IntegerField(required=False, help_text="dpo: LoRA rank (16).")
    lora_alpha = serializers.IntegerField(required=False, help_text="dpo: LoRA alpha (32).")
    lora_dropout = serializers.FloatField(required=False, help_text="dpo: 0-0.9 (0.05).")
    merge_adapter = serializers.BooleanField(
        required=False, help_text="dpo with lora: save the merged model, not the adapter."
    )
    gradient_checkpointing = serializers.BooleanField(required=False, help_text="dpo only.")


class TrainingRunSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="model_name")
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    model_version = serializers.SerializerMethodField()
    policy_version = serializers.SerializerMethodField(
        help_text="The policy version a done dpo run registered."
    )
    warning = serializers.SerializerMethodField(
        help_text="Set while the run is queued but the workers are unreachable."
    )

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "current_step",
            "total_steps",
            "metrics",
            "error",
            "dataset",
            "name",
            "base_model",
            "config",
            "device",
            "world_size",
            "library_versions",
            "artifacts_dir",
            "cancel_requested",
            "model_version",
            "policy_version",
            "warning",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_warning(self, run: TrainingRun) -> str | None:
        if run.status != RunStatus.QUEUED:
            return None
        return queue_warning(TRAINING_JOB, run.pk)

    def get_model_version(self, run: TrainingRun) -> int | None:
        model = getattr(run, "model_version", None)
        return model.pk if model is not None else None

    def get_policy_version(self, run: TrainingRun) -> int | None:
        policy = getattr(run, "policy_version", None)
        return policy.pk if policy is not None else None


RunAccepted = job_accepted_schema("TrainingRunAccepted", "run")


class TrainingRunListView(ListAPIView):
    """``GET``: the runs of datasets the caller leads, newest first. ``POST``: start a run on
    the ``gpu`` queue; 202 with its id, then poll ``GET /training-runs/{id}``."""

    serializer_class = TrainingRunSerializer

    def get_queryset(self):
        return runs_led_by(self.request.user).select_related(
            "created_by", "model_version", "policy_version"
        )

    @extend_schema(
        request=StartRunSerializer,
        responses={
            202: RunAccepted,
            400: OpenApiResponse(
                description="A bad field (a base model that is not allowed included) or an "
                "untrainable dataset."
            ),
            403: OpenApiResponse(description="The caller does not lead the dataset's sprints."),
            404: OpenApiResponse(description="No such dataset visible to the caller."),
        },
    )
    def post(self, request: Request) -> Response:
        if not leads_any_sprint(request.user):
            raise PermissionDenied(LEAD_ONLY)
        body = StartRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        dataset = led_dataset(request.user, values.pop("dataset"))
        base_model = values.pop("base_model", "")
        name = values.pop("name", None)
        kind = values.pop("kind")
        run = start_training_run(
            dataset, actor=request.user, base_model=base_model, name=name, options=values,
            kind=kind,
        )  # fmt: skip
        body = {"id": run.pk, "status": run.status}
        warning = queue_warning(TRAINING_JOB, run.pk)
        if warning:
            body["warning"] = warning
        return Response(body, status=status.HTTP_202_ACCEPTED)


class TrainingRunDetailView(APIView):
    """Status, progress and metrics of one run (the loss curve and per-epoch evaluation grow
    while it runs)."""

    @extend_schema(responses={200: TrainingRunSerializer})
    def get(self, request: Request, run_id: int) -> Response:
        return Response(TrainingRunSerializer(led_run(request.user, run_id)).data)


class TrainingRunCancelView(APIView):
    """Cancel a run: a queued one at once, a running one at its worker's next check (the
    answer then says ``running`` with ``cancel_requested``); 409 once it has finished."""

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "TrainingRunCancel",
                {
                    "id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "cancel_requested": serializers.BooleanField(),
                },
            ),
            409: OpenApiResponse(description="The run has already finished."),
        },
    )
    def post(self, request: Request, run_id: int) -> Response:
        run = led_run(request.user, run_id)
        try:
            run = cancel_training_run(run, actor=request.user)
        except RunFinished as finished:
            raise ConcordError(str(finished), status.HTTP_409_CONFLICT) from finished
        return Response(
            {"id": run.pk, "status": run.status, "cancel_requested": run.cancel_requested},
            status=status.HTTP_202_ACCEPTED,
        )


class BaseModelListView(APIView):
    """The model folders under the operator's ``CONCORD_BASE_MODEL_ROOTS`` a run may start
    from, with what each is (``causal_lm`` for a dpo run, ``encoder`` for a reward run) and
    whether its tokenizer has a chat template. Leads only. Registered versions are named
    ``model:<id>`` (``GET /models``) and ``policy:<id>`` (``GET /policies``)."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "BaseModels",
                {
                    "results": serializers.ListField(
                        child=inline_serializer(
                            "BaseModel",
                            {
                                "base_model": serializers.CharField(
                                    help_text="What to send as a run's base_model."
                                ),
                                "path": serializers.CharField(),
                                "kind": serializers.ChoiceField(
                                    choices=["causal_lm", "encoder", "unknown"]
                                ),
                                "architectures": serializers.ListField(
                                    child=serializers.CharField()
                                ),
                                "chat_template": serializers.BooleanField(),
                            },
                        )
                    )
                },
            ),
            403: OpenApiResponse(description="The caller leads no sprint."),
        }
    )
    def get(self, request: Request) -> Response:
        if not leads_any_sprint(request.user):
            raise PermissionDenied(LEAD_ONLY)
        return Response({"results": listed_base_models()})
