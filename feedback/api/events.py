"""Feedback events over REST.

- ``POST /api/v1/feedback/events``: an ingest token sends a batch for one of its sources
  (``feedback.services.ingest``). 200 when at least one event was stored or known, with every
  rejected event listed by index and field; 400 when every event was rejected; 413 when the
  batch is over ``CONCORD_FEEDBACK_MAX_EVENTS`` events or ``CONCORD_FEEDBACK_MAX_BATCH_BYTES``.
- ``GET /api/v1/feedback/events?source=<slug>``, ``GET /api/v1/feedback/events/{id}``: a
  source's leads read its events, as stored (redacted, ids hashed).
- ``GET /api/v1/feedback/sources``: the sources the caller leads.

The body is read here with orjson rather than by the API's JSON parser: a NUL or a bad value
in one event must reject that event alone, which the per-event reader does, naming the field.
"""

from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api.pagination import CheckedPageNumberPagination
from annotation.api.schema import ErrorSerializer
from annotation.services.errors import ConcordError
from feedback.api.authentication import IsIngestClient
from feedback.api.event_docs import BATCH, EXAMPLE_BATCH, INGEST_ANSWER
from feedback.api.schema_bodies import documented_body
from feedback.models import FeedbackEvent, FeedbackSource
from feedback.services.feedback_access import (
    readable_source,
    require_feedback_lead,
    sources_led_by,
)
from feedback.services.ingest import BatchRejected, ingest_events, problems_of


def _batch_body(request: Request) -> dict[str, Any]:
    limit = settings.CONCORD_FEEDBACK_MAX_BATCH_BYTES
    too_big = BatchRejected(
        f"The batch is larger than {limit} bytes (CONCORD_FEEDBACK_MAX_BATCH_BYTES); "
        "send fewer events a request", status=413, field="events",
    )  # fmt: skip
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_big
    try:
        raw = request._request.body
    except RequestDataTooBig:
        raise too_big from None
    if len(raw) > limit:
        raise too_big
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        message = "The body is not JSON (UTF-8), or is nested too deep."
        raise BatchRejected(message, field="body") from None
    if not isinstance(body, dict):
        raise BatchRejected('The body must be an object: {"events": [...]}.', field="body")
    unknown = sorted(str(key) for key in body if key not in ("source", "events"))
    if unknown:
        raise BatchRejected([{"field": k, "message": "is not a known field"} for k in unknown])
    if "events" not in body:
        raise BatchRejected("is required", field="events")
    return body


def _source_of(request: Request, body: dict[str, Any]) -> FeedbackSource:
    allowed = list(request.auth.sources.all())
    slug = body.get("source", request.query_params.get("source"))
    if slug is None:
        if len(allowed) == 1:
            return allowed[0]
        raise ConcordError("Name the source: this token ingests for several.", field="source")
    for source in allowed:
        if source.slug == slug:
            return source
    raise ConcordError("This token does not ingest for that source.", status=403, field="source")


BATCH_BODY = documented_body("FeedbackBatch", BATCH)


class EventSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = FeedbackEvent
        exclude = ["thumb", "stars", "outcome", "reasked", "escalated"]


class EventPagination(CheckedPageNumberPagination):
    page_size = 100


class EventListView(ListAPIView):
    """A source's events, newest first (its leads only)."""

    permission_classes = [IsAuthenticated]
    serializer_class = EventSerializer
    pagination_class = EventPagination

    @extend_schema(
        summary="A source's stored (redacted) events, newest first; its leads only",
        parameters=[
            OpenApiParameter(
                "source",
                str,
                required=True,
                pattern=r"^[-a-zA-Z0-9_]+$",
                description="The slug of a source you lead.",
            ),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Occurred at or after."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Occurred before."),
            OpenApiParameter("model_version", str),
        ],
        responses={200: EventSerializer(many=True), 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[FeedbackEvent]:
        params = self.request.query_params
        slug = params.get("source")
        if not slug:
            raise ConcordError("is required: the slug of a source you lead", field="source")
        source = readable_source(self.request.user, slug)
        events = FeedbackEvent.objects.filter(source=source).select_related("source")
        for name, lookup in (("since", "occurred_at__gte"), ("until", "occurred_at__lt")):
            if params.get(name):
                moment = _moment(params[name], name)
                events = events.filter(**{lookup: moment})
        if params.get("model_version"):
            events = events.filter(model_version=params["model_version"])
        return events.order_by("-occurred_at", "-id")


class EventsView(EventListView):
    """POST: an ingest token sends a batch; GET: a source's leads list its events."""

    def get_permissions(self) -> list:
        if self.request.method == "POST":
            return [IsIngestClient()]
        return [IsAuthenticated()]

    @extend_schema(
        operation_id="feedback_events_ingest",
        summary="Send a batch of production feedback events (ingest token only)",
        request=BATCH_BODY,
        responses={
            200: OpenApiResponse(INGEST_ANSWER, description="Stored, known and rejected events."),
            400: OpenApiResponse(ErrorSerializer, description="Every event was rejected."),
            403: OpenApiResponse(ErrorSerializer, description="Not an ingest token for it."),
            413: OpenApiResponse(ErrorSerializer, description="Too many events or bytes."),
        },
        examples=[OpenApiExample("One event", value=EXAMPLE_BATCH, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        body = _batch_body(request)
        source = _source_of(request, body)
        result = ingest_events(source, body.get("events"))
        answer = result.as_body()
        stored = result.accepted or result.duplicates or result.merged
        if result.rejected:
            problems = problems_of(result)
            answer["errors"] = problems
            answer["detail"] = (
                f"{len(result.rejected)} of {len(body['events'])} events rejected; "
                f"first: {problems[0].get('field', '')}: {problems[0]['message']}"
            )
        return Response(answer, status=200 if stored or not result.rejected else 400)


def _moment(value: str, name: str):
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ConcordError("must be an ISO 8601 date and time with a time zone", field=name)
    return parsed


class EventDetailView(RetrieveAPIView):
    """One event, as stored (its source's leads only; anyone else: 404)."""

    permission_classes = [IsAuthenticated]
    serializer_class = EventSerializer

    def get_queryset(self) -> QuerySet[FeedbackEvent]:
        led = require_feedback_lead(self.request.user)
        return FeedbackEvent.objects.filter(source__in=led).select_related("source")


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeedbackSource
        fields = ["id", "slug", "name", "description", "retention_days", "detectors", "created_at"]


class SourceListView(ListAPIView):
    """The feedback sources the caller leads (every source for a superuser)."""

    permission_classes = [IsAuthenticated]
    serializer_class = SourceSerializer
    pagination_class = EventPagination

    def get_queryset(self) -> QuerySet[FeedbackSource]:
        return sources_led_by(self.request.user).order_by("slug")
