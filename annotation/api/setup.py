"""Sprint setup over REST, so a script never drives the admin's HTML forms.

- ``GET/POST /api/v1/sprints``: the caller's sprints (any role, with it) / create one (leads).
- ``GET/PATCH /api/v1/sprints/{id}``: one sprint (members) / change it (its leads).
- ``GET/POST /api/v1/sprints/{id}/members``: the members (leads) / add an existing person by
  ``user`` id, or invite a new one by ``username`` (the link is in the answer, once).
- ``PATCH/DELETE /api/v1/sprints/{id}/members/{user_id}``: change a role or pseudonym / remove.
- ``GET/POST /api/v1/rubrics``, ``GET /api/v1/rubrics/{id}``: rubric versions with criteria;
  posting a known name makes its next version (a stored version is never edited).

The rules and audit events are the admin's, kept in :mod:`annotation.services.sprint_setup`
and :mod:`annotation.services.accounts`; these views parse and shape.
"""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.pagination import CheckedPageNumberPagination
from annotation.api.schema import ClosedBodySerializer, ErrorSerializer
from annotation.models import CriterionKind, Rubric, Sprint, SprintMember, SprintRole
from annotation.services.access import sprint_role, sprints_visible_to
from annotation.services.accounts import add_member, invite_member, person_led_by
from annotation.services.errors import ConcordError
from annotation.services.rubrics import config_keys_help
from annotation.services.sprint_setup import (
    SPRINT_FIELDS,
    change_member,
    create_rubric_version,
    create_sprint,
    remove_member,
    require_lead,
    update_sprint,
)

User = get_user_model()
CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="The state refuses it: the last lead, a rubric with judgments, a taken slug, "
    "a person already a member.",
)


class SetupPagination(CheckedPageNumberPagination):
    page_size = 100


class SprintSettingsSerializer(ClosedBodySerializer, serializers.ModelSerializer):
    rubric = serializers.PrimaryKeyRelatedField(
        queryset=Rubric.objects.all(), help_text="A rubric version's id (GET /api/v1/rubrics)."
    )
    role = serializers.SerializerMethodField(help_text="The caller's role in this sprint.")

    class Meta:
        model = Sprint
        fields = ["id", *SPRINT_FIELDS, "role", "created_at"]
        read_only_fields = ["id", "created_at", "role"]
        # Uniqueness is the service's to check, inside its transaction; the ranges are the
        # table's constraints, named by field here rather than by constraint after the fact.
        extra_kwargs = {
            "slug": {"validators": []},
            "overlap_k": {"min_value": 1},
            "gold_rate": {"min_value": 0.0, "max_value": 1.0},
            "agreement_threshold": {"min_value": -1.0, "max_value": 1.0},
            "lease_minutes": {"min_value": 1},
        }

    def get_role(self, sprint: Sprint) -> str | None:
        role = sprint_role(self.context["request"].user, sprint)
        return str(role) if role else None


class SprintChangeSerializer(SprintSettingsSerializer):
    class Meta(SprintSettingsSerializer.Meta):
        read_only_fields = [*SprintSettingsSerializer.Meta.read_only_fields, "slug"]

    def to_internal_value(self, data):
        if hasattr(data, "get") and "slug" in data:
            # Said, not ignored: links, exports and scripts name the sprint by it.
            raise serializers.ValidationError({"slug": "A sprint's slug is fixed once it exists."})
        return super().to_internal_value(data)


class SprintMemberSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    active = serializers.BooleanField(
        source="user.is_active",
        read_only=True,
        help_text="False until an invited person sets their password.",
    )

    class Meta:
        model = SprintMember
        fields = ["user", "username", "role", "pseudonym", "active", "joined_at"]


class AddMemberSerializer(ClosedBodySerializer):
    user = serializers.IntegerField(
        required=False, min_value=1, help_text="An existing person's id (one of your sprints')."
    )
    username = serializers.CharField(
        required=False, max_length=150, help_text="A new person to invite instead."
    )
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=SprintRole.choices, default=SprintRole.ANNOTATOR)
    pseudonym = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")

    def validate(self, attrs: dict) -> dict:
        if ("user" in attrs) == ("username" in attrs):
            raise serializers.ValidationError(
                {"user": "Give either user (an existing person) or username (to invite)."}
            )
        return attrs


class ChangeMemberSerializer(ClosedBodySerializer):
    role = serializers.ChoiceField(choices=SprintRole.choices, required=False)
    pseudonym = serializers.CharField(required=False, allow_blank=True, max_length=32)


class CriterionSpecSerializer(ClosedBodySerializer):
    name = serializers.SlugField(max_length=64)
    kind = serializers.ChoiceField(choices=CriterionKind.choices)
    question = serializers.CharField(max_length=500)
    help_text = serializers.CharField(required=False, allow_blank=True, default="")
    required = serializers.BooleanField(required=False, default=True)
    config = serializers.DictField(required=False, default=dict, help_text=config_keys_help())


class RubricVersionSerializer(ClosedBodySerializer, serializers.ModelSerializer):
    criteria = CriterionSpecSerializer(many=True, min_length=1)
    previous = serializers.IntegerField(source="previous_id", read_only=True, allow_null=True)

    class Meta:
        model = Rubric
        fields = ["id", "name", "version", "guidelines", "previous", "criteria", "created_at"]
        read_only_fields = ["id", "version", "previous", "created_at"]
        # A known name makes its next version: the service numbers it, under a lock.
        validators = []


RUBRIC_EXAMPLE = {
    "name": "Support answers",
    "guidelines": "Prefer answers that are correct and grounded in the documents.",
    "criteria": [
        {
            "name": "preference",
            "kind": "preference",
            "question": "Which response is better?",
            "config": {"allow_tie": True, "strength_labels": ["slightly", "clearly", "much"]},
        },
        {
            "name": "helpfulness",
            "kind": "likert",
            "question": "How helpful is each response?",
            "config": {"min": 1, "max": 5, "labels": {"1": "useless", "5": "solves it"}},
        },
    ],
}


def _sprint_for(request: Request, sprint_id: int) -> Sprint:
    sprint = get_object_or_404(Sprint.objects.select_related("rubric"), pk=sprint_id)
    if sprint_role(request.user, sprint) is None:
        raise ConcordError("No such sprint.", 404)
    return sprint


class SprintListView(ListAPIView):
    """The caller's sprints, newest first, with their role in each. ``POST`` creates a sprint
    (a lead's permission); its creator leads it."""

    serializer_class = SprintSettingsSerializer
    pagination_class = SetupPagination

    def get_queryset(self):
        return sprints_visible_to(self.request.user).select_related("rubric").order_by("-id")

    @extend_schema(
        request=SprintSettingsSerializer, responses={201: SprintSettingsSerializer, 409: CONFLICT}
    )
    def post(self, request: Request) -> Response:
        body = SprintSettingsSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        sprint = create_sprint(request.user, body.validated_data)
        return Response(
            SprintSettingsSerializer(sprint, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class SprintDetailView(APIView):
    """One of the caller's sprints; ``PATCH`` changes it (its leads; ``slug`` is fixed)."""

    @extend_schema(responses={200: SprintSettingsSerializer})
    def get(self, request: Request, sprint_id: int) -> Response:
        sprint = _sprint_for(request, sprint_id)
        return Response(SprintSettingsSerializer(sprint, context={"request": request}).data)

    @extend_schema(
        request=SprintChangeSerializer, responses={200: SprintSettingsSerializer, 409: CONFLICT}
    )
    def patch(self, request: Request, sprint_id: int) -> Response:
        sprint = _sprint_for(request, sprint_id)
        require_lead(request.user, sprint)
        body = SprintChangeSerializer(
            sprint, data=request.data, partial=True, context={"request": request}
        )
        body.is_valid(raise_exception=True)
        sprint = update_sprint(request.user, sprint, body.validated_data)
        return Response(SprintSettingsSerializer(sprint, context={"request": request}).data)


class MemberListView(APIView):
    """A sprint's members (its leads only). ``POST`` adds an existing person (``user``) or
    invites a new one (``username``): the invitation link is in the answer, once."""

    @extend_schema(responses={200: SprintMemberSerializer(many=True)})
    def get(self, request: Request, sprint_id: int) -> Response:
        sprint = _sprint_for(request, sprint_id)
        require_lead(request.user, sprint)
        members = SprintMember.objects.filter(sprint=sprint).select_related("user")
        return Response(SprintMemberSerializer(members.order_by("role", "user_id"), many=True).data)

    @extend_schema(
        request=AddMemberSerializer,
        responses={
            201: inline_serializer(
                "AddedMember",
                {
                    "member": SprintMemberSerializer(),
                    "invitation_url": serializers.URLField(
                        required=False, help_text="Shown once; only its hash is stored."
                    ),
                    "expires_at": serializers.DateTimeField(required=False),
                },
            ),
            409: CONFLICT,
        },
        examples=[
            OpenApiExample("Add an existing person", {"user": 7, "role": "reviewer"}),
            OpenApiExample(
                "Invite a new person", {"username": "mina", "email": "mina@example.com"}
            ),
        ],
    )
    def post(self, request: Request, sprint_id: int) -> Response:
        sprint = _sprint_for(request, sprint_id)
        require_lead(request.user, sprint)
        body = AddMemberSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "user" in data:
            person = person_led_by(request.user, data["user"])
            member = add_member(
                request.user, sprint, person, role=data["role"], pseudonym=data["pseudonym"]
            )
            return Response({"member": SprintMemberSerializer(member).data}, status=201)
        issued = invite_member(
            request.user, sprint, username=data["username"], email=data["email"], role=data["role"]
        )
        link = request.build_absolute_uri(reverse("invitation-accept", args=[issued.token]))
        answer = {
            "member": SprintMemberSerializer(issued.membership).data,
            "invitation_url": link,
            "expires_at": issued.expires_at,
        }
        return Response(answer, status=201)


class MemberDetailView(APIView):
    """Change a member's role or pseudonym, or remove them (a sprint's leads only)."""

    @extend_schema(
        request=ChangeMemberSerializer,
        responses={200: SprintMemberSerializer, 409: CONFLICT},
    )
    def patch(self, request: Request, sprint_id: int, user_id: int) -> Response:
        sprint = _sprint_for(request, sprint_id)
        body = ChangeMemberSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        member = change_member(request.user, sprint, user_id, body.validated_data)
        return Response(SprintMemberSerializer(member).data)

    @extend_schema(responses={204: None, 409: CONFLICT})
    def delete(self, request: Request, sprint_id: int, user_id: int) -> Response:
        sprint = _sprint_for(request, sprint_id)
        remove_member(request.user, sprint, user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _require_rubric_reader(request: Request) -> None:
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("annotation.view_rubric")):
        raise ConcordError("Rubrics are for leads.", 403)


class RubricListView(ListAPIView):
    """Every rubric version, newest first within a name (leads). ``POST`` stores a new rubric,
    or the next version of a known name."""

    serializer_class = RubricVersionSerializer
    pagination_class = SetupPagination

    def get_queryset(self):
        _require_rubric_reader(self.request)
        return Rubric.objects.prefetch_related("criteria").order_by("name", "-version")

    @extend_schema(
        request=RubricVersionSerializer,
        responses={201: RubricVersionSerializer, 409: CONFLICT},
        examples=[OpenApiExample("A preference and a Likert question", RUBRIC_EXAMPLE)],
    )
    def post(self, request: Request) -> Response:
        body = RubricVersionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        rubric = create_rubric_version(
            request.user, data["name"], data.get("guidelines", ""), data["criteria"]
        )
        return Response(RubricVersionSerializer(rubric).data, status=status.HTTP_201_CREATED)


class RubricDetailView(APIView):
    @extend_schema(responses={200: RubricVersionSerializer})
    def get(self, request: Request, rubric_id: int) -> Response:
        _require_rubric_reader(request)
        rubric = get_object_or_404(Rubric.objects.prefetch_related("criteria"), pk=rubric_id)
        return Response(RubricVersionSerializer(rubric).data)


urlpatterns = [
    path("sprints", SprintListView.as_view(), name="api-sprints"),
    path("sprints/<id:sprint_id>", SprintDetailView.as_view(), name="api-sprint"),
    path("sprints/<id:sprint_id>/members", MemberListView.as_view(), name="api-sprint-members"),
    path(
        "sprints/<id:sprint_id>/members/<id:user_id>",
        MemberDetailView.as_view(),
        name="api-sprint-member",
    ),
    path("rubrics", RubricListView.as_view(), name="api-rubrics"),
    path("rubrics/<id:rubric_id>", RubricDetailView.as_view(), name="api-rubric"),
]
