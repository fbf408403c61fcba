"""What a source's feedback says, for its leads.

- ``GET /api/v1/feedback/dashboard?source=<slug>&days=28&min_support=20``: the dashboard's
  figures (``feedback.services.dashboard``).
- ``GET /api/v1/feedback/regeneration-prompts?source=<slug>&since=&until=&model_version=&signal=``:
  JSONL, one negative single-response event a line, for the product team to regenerate
  alternatives and send them back through ingest (``feedback.services.regeneration``).

Both: a lead of the source (or a superuser); 403 for someone who leads no source, 404 for a
lead of other sources; 400 naming the field for a bad parameter. The checks run before the
stream starts, so a refusal is the one error shape, never a cut file.
"""

from collections.abc import Iterator
from typing import Any

import orjson
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.schema import ErrorSerializer
from feedback.services.dashboard import (
    DEFAULT_MIN_SUPPORT,
    DEFAULT_WORST,
    MAX_DAYS,
    feedback_dashboard,
)
from feedback.services.feedback_access import readable_source
from feedback.services.regeneration import NEGATIVE_SIGNALS, regeneration_prompts

REFUSALS = {
    400: OpenApiResponse(ErrorSerializer, description="A bad parameter, named."),
    403: OpenApiResponse(ErrorSerializer, description="You lead no feedback source."),
    404: OpenApiResponse(ErrorSerializer, description="No such source, or not yours."),
}


class DashboardQuery(serializers.Serializer):
    source = serializers.SlugField(max_length=100, help_text="The source's slug.")
    days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, default=28, help_text="Calendar days (UTC) up to now."
    )
    min_support = serializers.IntegerField(
        min_value=1,
        max_value=1_000_000,
        default=DEFAULT_MIN_SUPPORT,
        help_text="Thumbed events a stratum needs to be ranked among the worst.",
    )
    worst = serializers.IntegerField(
        min_value=1, max_value=100, default=DEFAULT_WORST, help_text="How many strata to rank."
    )


class RegenerationQuery(serializers.Serializer):
    source = serializers.SlugField(max_length=100, help_text="The source's slug.")
    since = serializers.DateTimeField(required=False, help_text="ISO 8601; occurred at or after.")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601; occurred before.")
    model_version = serializers.CharField(
        required=False, max_length=100, help_text="Only this model version."
    )
    signal = serializers.ChoiceField(
        choices=list(NEGATIVE_SIGNALS),
        required=False,
        help_text="Only this negative signal; without it, any of them.",
    )


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


class FeedbackDashboardView(APIView):
    """Events per day by signal and model version, thumbs-up rate (Wilson 95 %) and mean
    stars (normal 95 %) per model version, the worst strata, and a drift mark per version."""

    @extend_schema(
        operation_id="feedback_dashboard",
        parameters=[DashboardQuery],
        responses={200: OpenApiTypes.OBJECT, **REFUSALS},
    )
    def get(self, request: Request) -> Response:
        query = _query(DashboardQuery, request)
        source = readable_source(request.user, query.pop("source"))
        return Response(feedback_dashboard(request.user, source, **query))


def _jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield orjson.dumps(row) + b"\n"


class JsonLinesRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: application/x-ndjson`` (else a 406). The rows stream
    past the renderers; only an error body comes here, as one JSON line."""

    media_type = "application/x-ndjson"
    format = "jsonl"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        return orjson.dumps(data) + b"\n"


class RegenerationPromptsView(APIView):
    """The source's negative events with a single response, as JSONL: send regenerations
    back through ``POST /api/v1/feedback/events`` as ``alternatives`` of the same
    ``event_id``."""

    renderer_classes = [JSONRenderer, JsonLinesRenderer]

    @extend_schema(
        operation_id="feedback_regeneration_prompts",
        parameters=[RegenerationQuery],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="One JSON object a line."
            ),
            **REFUSALS,
        },
        examples=[
            OpenApiExample(
                "A line",
                {
                    "event_id": "ev-9",
                    "source": "support-bot",
                    "occurred_at": "2026-11-20T09:14:00+00:00",
                    "prompt": "How do I reset my password?",
                    "context": [{"id": "kb-12", "title": "Account help", "text": "..."}],
                    "model": {"name": "bot", "version": "v3"},
                    "response": {"id": "r1", "text": "Open Settings."},
                    "signals": {"thumb": "down"},
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = _query(RegenerationQuery, request)
        source = readable_source(request.user, query.pop("source"))
        rows = regeneration_prompts(request.user, source, **query)
        response = StreamingHttpResponse(_jsonl(rows), content_type="application/x-ndjson")
        name = f"{source.slug}-regeneration-prompts.jsonl"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
