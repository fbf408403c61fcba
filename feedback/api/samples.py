"""Feedback samples over REST: a sprint's lead draws production events into its items.

- ``POST /api/v1/feedback/samples``: check the request and queue the draw
  (:func:`feedback.services.sampling.start_sample`); 202 with the sample's id, status and URL.
- ``GET /api/v1/feedback/samples/{id}``: its status, progress, then the report (drawn per
  stratum, skipped by reason) or why it failed; the sprint's leads only.

The body is checked by the service, which names every bad field (the API's one error shape);
:mod:`feedback.api.sample_docs` describes it in the OpenAPI schema.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.job_answers import job_accepted, job_accepted_schema, queued_warning
from annotation.api.permissions import require_sprint_role
from annotation.api.schema import ErrorSerializer
from annotation.models import SprintRole
from feedback.api.sample_docs import (
    EXAMPLE_SAMPLE_REPORT,
    EXAMPLE_SAMPLE_REQUEST,
    FeedbackSampleDrawSerializer,
)
from feedback.models import FeedbackSample, SampleStatus
from feedback.services.sampling import SAMPLE_JOB, sample_body, sample_sprint, start_sample

SampleAccepted = job_accepted_schema(
    "FeedbackSampleAccepted", "sample", status_url="progress and the report"
)

SampleStatusBody = inline_serializer(
    "FeedbackSample",
    {
        "id": serializers.IntegerField(),
        "sprint": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=SampleStatus.values),
        "progress": serializers.FloatField(help_text="From 0 to 1."),
        "report": serializers.DictField(
            allow_null=True,
            help_text='Once done: {"requested", "drawn", "items_created", "field", '
            '"allocation", "redistribute", "seed", "per_stratum": {s: {"target", "drawn", '
            '"available"}}, "skipped": {"single_response", "duplicate_content", '
            '"already_in_sprint", "purged"}, "outside_strata"}.',
        ),
        "error": serializers.CharField(help_text="Why it failed; empty otherwise."),
        "filters": serializers.DictField(),
        "n": serializers.IntegerField(),
        "strata": serializers.DictField(),
        "seed": serializers.IntegerField(),
        "warning": serializers.CharField(allow_null=True),
        "created_at": serializers.DateTimeField(),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)


class SamplesView(APIView):
    @extend_schema(
        summary="Draw a stratified sample of feedback events into a sprint's items",
        request=FeedbackSampleDrawSerializer,
        responses={
            202: SampleAccepted,
            400: OpenApiResponse(ErrorSerializer, description="A bad field; nothing stored."),
            403: OpenApiResponse(
                ErrorSerializer,
                description="Not a lead of the sprint, or a lead of no feedback source.",
            ),
            404: OpenApiResponse(
                ErrorSerializer,
                description="No such sprint of yours, or no such source that you lead.",
            ),
            409: OpenApiResponse(ErrorSerializer, description="The sprint is closed."),
        },
        examples=[
            OpenApiExample(
                "Thumbs-down re-asks, billing twice auth",
                value=EXAMPLE_SAMPLE_REQUEST,
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        """Queue a draw of up to ``n`` events with two or more responses into the sprint."""
        sprint = sample_sprint(request.user, request.data)
        sample = start_sample(request.user, sprint, request.data)
        return job_accepted(request, SAMPLE_JOB, sample, "api-feedback-sample")


class SampleDetailView(APIView):
    @extend_schema(
        summary="A feedback sample's status, progress and report",
        responses={
            200: OpenApiResponse(
                SampleStatusBody,
                examples=[
                    OpenApiExample(
                        "Done",
                        {
                            "id": 3,
                            "sprint": 7,
                            "status": "done",
                            "progress": 1.0,
                            "report": EXAMPLE_SAMPLE_REPORT,
                            "error": "",
                            "filters": {
                                **EXAMPLE_SAMPLE_REQUEST["filters"],
                                "source": ["support-bot"],
                            },
                            "n": 200,
                            "strata": {**EXAMPLE_SAMPLE_REQUEST["strata"], "redistribute": False},
                            "seed": 42,
                            "warning": None,
                            "created_at": "2026-12-05T09:00:00Z",
                            "finished_at": "2026-12-05T09:00:04Z",
                        },
                    )
                ],
            ),
            403: OpenApiResponse(ErrorSerializer, description="Not a lead of its sprint."),
            404: OpenApiResponse(ErrorSerializer, description="No such sample of yours."),
        },
    )
    def get(self, request: Request, sample_id: int) -> Response:
        """Its status and progress, then the report or why it failed."""
        sample = get_object_or_404(FeedbackSample.objects.select_related("sprint"), pk=sample_id)
        require_sprint_role(request.user, sample.sprint, SprintRole.LEAD)
        warning = queued_warning(SAMPLE_JOB, sample, SampleStatus.QUEUED)
        return Response({**sample_body(sample), "warning": warning})
