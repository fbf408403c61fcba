"""REST views of the annotation app: parse the request, ask the service, shape the answer."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.permissions import require_sprint_role
from annotation.api.schema import ErrorSerializer
from annotation.models import Sprint, SprintRole
from annotation.services.imports import ImportProblem, ImportRejected, import_items
from annotation.services.imports.service import FORMATS
from annotation.services.lockouts import lockout_message, lockout_retry_after


class LoginLockedOut(exceptions.Throttled):
    """A token request for a locked-out username and address: 429 with ``Retry-After``, in the
    API's one error shape (the exception handler maps it)."""


class TokenRequestSerializer(AuthTokenSerializer):
    """DRF's token serializer, with the request handed to ``authenticate`` explicitly, so that
    django-axes counts failed tries here as on the login page, and a lock-out answered as one."""

    def validate(self, attrs: dict) -> dict:
        request = self.context["request"]
        user = authenticate(request=request, username=attrs["username"], password=attrs["password"])
        if user is None:
            if getattr(request, "axes_locked_out", False):
                raise LoginLockedOut(wait=lockout_retry_after(), detail=lockout_message())
            raise serializers.ValidationError(
                "Unable to log in with provided credentials.", code="authorization"
            )
        attrs["user"] = user
        return attrs


@extend_schema_view(
    post=extend_schema(
        request=TokenRequestSerializer,
        parameters=[
            OpenApiParameter(
                "Retry-After", int, OpenApiParameter.HEADER, response=[429],
                description="Seconds until the lock-out ends.",
            )
        ],
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: OpenApiResponse(description="A missing field, or a wrong username or password."),
            429: OpenApiResponse(description="Locked out after too many failed tries."),
        },
    )
)  # fmt: skip
class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for the user's API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = TokenRequestSerializer


class ItemImportSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    format = serializers.ChoiceField(choices=FORMATS, required=False)


class ImportErrorSerializer(ErrorSerializer):
    """The one error shape of an import, each problem with its ``line``, plus ``total``: how
    many problems the file had (the listed ones may be capped); absent when the request had
    no file to read."""

    total = serializers.IntegerField(required=False)

    class Meta:
        ref_name = "ImportError"


class ItemImportView(APIView):
    """Import items into a sprint from a JSONL or CSV file: all lines or none."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request=ItemImportSerializer,
        responses={
            201: inline_serializer(
                "ImportResult",
                {"created": serializers.IntegerField(), "unchanged": serializers.IntegerField()},
            ),
            400: OpenApiResponse(
                ImportErrorSerializer, description="Every problem, by line; nothing stored."
            ),
        },
    )
    def post(self, request: Request, sprint_id: int) -> Response:
        sprint = get_object_or_404(Sprint, pk=sprint_id)
        require_sprint_role(request.user, sprint, SprintRole.LEAD)
        form = ItemImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        if upload.size > settings.CONCORD_IMPORT_MAX_BYTES:
            limit = settings.CONCORD_IMPORT_MAX_BYTES
            message = (
                f"the file is {upload.size:,} bytes; the limit is {limit:,} "
                "(CONCORD_IMPORT_MAX_BYTES). Split it, or use `manage.py import_items`, which "
                "has no limit"
            )
            raise ImportRejected([ImportProblem(0, message, "file")])
        result = import_items(
            sprint,
            upload.file,
            filename=upload.name or "",
            file_format=form.validated_data.get("format"),
            actor=request.user,
        )
        return Response(
            {"created": result.created, "unchanged": result.unchanged},
            status=status.HTTP_201_CREATED,
        )
