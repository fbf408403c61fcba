"""``POST /api/v1/feedback/erasures``: forget one product user or session.

The body names the person by the id the product sent (``user_id`` or ``session_id``, exactly
one), and optionally the ``source``; without one, every source the caller leads. The rules, the
404/403 and the audit event are :func:`feedback.services.erasure.erase_person`'s; this view
parses and shapes.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.schema import ClosedBodySerializer, ErrorSerializer
from feedback.api.schema_bodies import documented_body
from feedback.services.erasure import MAX_ID_CHARS, erase_person


class ErasureSerializer(ClosedBodySerializer):
    source = serializers.CharField(
        required=False,
        max_length=100,
        help_text="A source's slug; without it, every source you lead.",
    )
    user_id = serializers.CharField(
        required=False,
        max_length=MAX_ID_CHARS,
        trim_whitespace=False,
        help_text="The product's user id, as it sent it in events.",
    )
    session_id = serializers.CharField(
        required=False,
        max_length=MAX_ID_CHARS,
        trim_whitespace=False,
        help_text="The product's session id, as it sent it in events.",
    )

    def validate(self, attrs: dict) -> dict:
        if ("user_id" in attrs) == ("session_id" in attrs):
            field = "session_id" if "user_id" in attrs else "user_id"
            raise serializers.ValidationError(
                {field: "Give exactly one of user_id and session_id."}
            )
        for name in ("user_id", "session_id"):
            if name in attrs and not attrs[name].strip():
                raise serializers.ValidationError({name: "This field may not be blank."})
        return attrs


def _erasure_body(id_field: str) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [id_field],
        "properties": {
            "source": {"type": "string", "maxLength": 100, "pattern": r"^[-a-zA-Z0-9_]+$",
                       "description": "A source's slug; without it, every source you lead."},
            id_field: {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS,
                       "pattern": r"\S", "description": "The id as the product sent it."},
        },
    }  # fmt: skip


# Exactly one of the two ids: the serializer's rule, said in the schema as two closed shapes.
ERASURE_BODY = documented_body(
    "FeedbackErasure", {"oneOf": [_erasure_body("user_id"), _erasure_body("session_id")]}
)


class ErasureReportSerializer(serializers.Serializer):
    events_removed = serializers.IntegerField(help_text="The person's events, deleted.")
    items_removed = serializers.IntegerField(
        help_text="Items built from them that nobody had judged, deleted."
    )
    items_unlinked = serializers.IntegerField(
        help_text="Judged items kept with their judgments, the link to the events removed."
    )
    preferences_removed = serializers.IntegerField(
        help_text="Production preferences taken from the events, deleted."
    )


class ErasureView(APIView):
    """Erase one product user's (or session's) events, and the items built from them that
    nobody has judged; judged items keep their judgments and lose the link. Leads of the
    source only (404 for a source you may not see, 403 when you lead none)."""

    @extend_schema(
        operation_id="feedback_erasure_create",
        request=ERASURE_BODY,
        responses={
            200: ErasureReportSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such source, or not yours."),
        },
        examples=[
            OpenApiExample(
                "A user, in one source", {"source": "support-bot", "user_id": "u-48151623"}
            ),
            OpenApiExample("A session, in every source you lead", {"session_id": "s-2342"}),
            OpenApiExample(
                "The answer",
                {
                    "events_removed": 12,
                    "items_removed": 3,
                    "items_unlinked": 1,
                    "preferences_removed": 2,
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        body = ErasureSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = erase_person(request.user, **body.validated_data)
        return Response(ErasureReportSerializer(report).data)
