"""REST views of the exports app: start an export, list and read exports, download a file.

Who sees an export: the leads of every one of its sprints and feedback sources, and
superusers (exports.services.access). Anyone else gets 404 for it and for its download,
whatever their role in its sprints, so an id tells an outsider nothing; anonymous callers
get 401.
"""

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.pagination import CheckedPageNumberPagination
from annotation.services import artifact_store
from annotation.services.jobs import queue_warning
from exports.api.serializers import DatasetVersionSerializer, ExportRequestSerializer
from exports.models import ExportStatus
from exports.services.access import exports_visible_to
from exports.services.build import EXPORT_JOB, start_export
from exports.services.files import download_name

CONTENT_TYPES = {
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv; charset=utf-8",
}


class ExportListView(APIView):
    pagination_class = CheckedPageNumberPagination

    @extend_schema(responses=DatasetVersionSerializer(many=True))
    def get(self, request: Request) -> Response:
        """The exports the caller may see, newest first, paginated."""
        paginator = self.pagination_class()
        exports = exports_visible_to(request.user).prefetch_related("sprints").order_by("-pk")
        page = paginator.paginate_queryset(exports, request, view=self)
        data = DatasetVersionSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        request=ExportRequestSerializer,
        responses={
            202: inline_serializer(
                "ExportStarted",
                {
                    "id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "warning": serializers.CharField(
                        required=False,
                        help_text="Only when the build is queued but the workers are "
                        "unreachable; it starts when they are back.",
                    ),
                },
            ),
            400: OpenApiResponse(
                description="A bad field, or a sprint or feedback source the caller does not "
                "lead; nothing stored."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        """Start an export of sprints the caller leads (and, for a preference export, of the
        production pairs of feedback sources they lead); a worker builds the file."""
        dataset = start_export(request.user, request.data)
        body = {"id": dataset.pk, "status": dataset.status}
        warning = queue_warning(EXPORT_JOB, dataset.pk)
        if warning:
            body["warning"] = warning
        return Response(body, status=202)


class ExportDetailView(APIView):
    @extend_schema(responses=DatasetVersionSerializer)
    def get(self, request: Request, pk: int) -> Response:
        dataset = get_object_or_404(exports_visible_to(request.user), pk=pk)
        return Response(DatasetVersionSerializer(dataset, context={"request": request}).data)


class ExportDownloadView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "X-Content-SHA256", str, OpenApiParameter.HEADER, response=[200],
                description="SHA-256 of the file, as in the manifest.",
            )
        ],
        responses={
            (200, *(media.split(";")[0] for media in CONTENT_TYPES.values())): OpenApiResponse(
                OpenApiTypes.BINARY, description="The export file, in the export's format."
            ),
            302: OpenApiResponse(
                description="With CONCORD_DOWNLOAD_SIGNED_URLS on an S3 store: a redirect to "
                "a short-lived signed URL of the file."
            ),
        },
    )  # fmt: skip
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        """The file, streamed from the artifact store; or, with
        ``CONCORD_DOWNLOAD_SIGNED_URLS`` on a store that signs (S3), a 302 to a URL valid for
        ``CONCORD_SIGNED_URL_SECONDS``. The name read comes from the export's row."""
        dataset = get_object_or_404(exports_visible_to(request.user), pk=pk)
        if dataset.status != ExportStatus.DONE or not dataset.file_path:
            raise Http404("This export has no file yet.")
        if settings.CONCORD_DOWNLOAD_SIGNED_URLS:
            url = artifact_store.signed_url(
                dataset.file_path, seconds=settings.CONCORD_SIGNED_URL_SECONDS,
                download_as=download_name(dataset),
            )  # fmt: skip
            if url is not None:
                response = HttpResponseRedirect(url)
                response["X-Content-SHA256"] = dataset.sha256
                return response
        try:
            stream = artifact_store.open_stream(dataset.file_path)
        except artifact_store.ArtifactMissing:
            raise Http404("The file of this export is missing.") from None
        response = FileResponse(
            stream, as_attachment=True, filename=download_name(dataset),
            content_type=CONTENT_TYPES[dataset.format],
        )  # fmt: skip
        if "Content-Length" not in response and hasattr(stream, "size"):
            response["Content-Length"] = stream.size  # an S3 body cannot seek to its end
        response["X-Content-SHA256"] = dataset.sha256
        return response
