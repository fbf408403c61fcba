"""Serializers of the exports API."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation.api.schema import ClosedBodySerializer
from annotation.services.jobs import queue_warning
from exports.models import DatasetVersion, ExportFormat, ExportKind, ExportStatus
from exports.services.build import EXPORT_JOB
from exports.services.empty import why_empty
from exports.services.production_request import PARTS
from exports.services.prompt_rendering import (
    CONTEXT_MODES,
    DEFAULT_CONTEXT_TEMPLATE,
    DEFAULT_DOCUMENT_TEMPLATE,
    FORMS,
    MAX_TEMPLATE_CHARS,
)
from feedback.models import PreferenceKind


@extend_schema_field(
    {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMaximum": True, "default": 0}
)
class FractionField(serializers.FloatField):
    """A number in [0, 1)."""


class ExportFiltersSerializer(ClosedBodySerializer):
    """The filters of an export (exports.services.requests); a ``judgments`` export takes only
    ``include_gold`` and ``exclude_flagged``, and a ``consensus`` export neither the rendering
    filters (``context``, ``context_template``, ``document_template``) nor the ``grouped``
    form. The manifest of a preference export records the rendering as ``rendering``."""

    min_agreement = serializers.FloatField(
        required=False, allow_null=True, min_value=-1, max_value=1, default=None,
        help_text="Drop items whose agreement is missing or lower.",
    )  # fmt: skip
    adjudicated_only = serializers.BooleanField(required=False, default=False)
    exclude_flagged = serializers.BooleanField(required=False, default=False)
    include_gold = serializers.BooleanField(required=False, default=False)
    test_fraction = FractionField(required=False, help_text="Share of prompts in the test split.")
    seed = serializers.IntegerField(required=False, min_value=0, default=0)
    form = serializers.ChoiceField(
        choices=FORMS, required=False, default="standard",
        help_text="standard: text; conversational: chat messages (TRL's conversational "
        "preference format, context documents in a system message); grouped: one row per item, "
        "`rejected` the list of every lower-ranked response (best first) and `margin` the list "
        "aligned with it.",
    )  # fmt: skip
    context = serializers.ChoiceField(
        choices=CONTEXT_MODES, required=False, default="prompt",
        help_text="prompt: an item's context documents go into the prompt, numbered with their "
        "ids and titles, ahead of the question (the conversational form: in a system message); "
        "none: they are left out. An item without documents is the same either way.",
    )  # fmt: skip
    context_template = serializers.CharField(
        required=False, default=DEFAULT_CONTEXT_TEMPLATE, max_length=MAX_TEMPLATE_CHARS,
        trim_whitespace=False,
        help_text="The block of all documents; must contain {documents} (the documents, each "
        "written by document_template, a blank line between) and no other placeholder. Write a "
        "literal brace as {{ or }}. An unknown placeholder is a 400 naming "
        "filters.context_template.",
    )  # fmt: skip
    document_template = serializers.CharField(
        required=False, default=DEFAULT_DOCUMENT_TEMPLATE, max_length=MAX_TEMPLATE_CHARS,
        trim_whitespace=False,
        help_text="One document; placeholders {number} (1, 2, ... in the item's order), {id}, "
        "{title}, {text}, {source}, no lookups, conversions or format specs. An unknown "
        "placeholder is a 400 naming filters.document_template.",
    )  # fmt: skip


class ProductionFiltersSerializer(ClosedBodySerializer):
    """Which production pairs a preference export takes (exports.services.production_request)."""

    sources = serializers.ListField(
        child=serializers.SlugField(max_length=100), min_length=1, required=False,
        help_text="Slugs of feedback sources the caller leads; left out, all of them.",
    )  # fmt: skip
    since = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Events that occurred at or after (ISO 8601)."
    )
    until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Events that occurred before (ISO 8601)."
    )
    model_version = serializers.CharField(required=False, allow_null=True, max_length=100)
    kind = serializers.ChoiceField(
        choices=PreferenceKind.choices, required=False, allow_null=True,
        help_text="Corrections or picks only; left out, both.",
    )  # fmt: skip


class ExportRequestSerializer(ClosedBodySerializer):
    """The body of ``POST /api/v1/exports``, for the OpenAPI schema; the request itself is
    checked by exports.services.requests, the same rules the admin and the command use."""

    sprints = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        help_text='Ids of sprints the caller leads; required (non-empty) while "sprints" is '
        "in sources, empty or left out otherwise.",
    )
    kind = serializers.ChoiceField(choices=ExportKind.choices, default="preference")
    format = serializers.ChoiceField(choices=ExportFormat.choices, default="jsonl")
    filters = ExportFiltersSerializer(required=False)
    sources = serializers.ListField(
        child=serializers.ChoiceField(choices=PARTS), min_length=1, max_length=2, required=False,
        help_text='The parts of a preference export: labelled sprints, production pairs of '
        'feedback sources, or both. Default ["sprints"].',
    )  # fmt: skip
    production = ProductionFiltersSerializer(
        required=False, help_text='Filters of the production part (with "production" in sources).'
    )


class DatasetVersionSerializer(serializers.ModelSerializer):
    sprints = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    download = serializers.SerializerMethodField()
    warning = serializers.SerializerMethodField(
        help_text="Set while the build is queued but the workers are unreachable."
    )
    note = serializers.SerializerMethodField(
        help_text="Set when a finished export kept no rows: why, and what to do."
    )

    class Meta:
        model = DatasetVersion
        fields = [
            "id", "status", "kind", "format", "sprints", "filters", "production", "rows", "sha256",
            "manifest", "error", "created_at", "started_at", "finished_at", "download", "warning",
            "note",
        ]  # fmt: skip

    def get_warning(self, obj: DatasetVersion) -> str | None:
        if obj.status != ExportStatus.QUEUED:
            return None
        return queue_warning(EXPORT_JOB, obj.pk)

    def get_note(self, obj: DatasetVersion) -> str | None:
        return why_empty(obj)

    def get_download(self, obj: DatasetVersion) -> str | None:
        if obj.status != ExportStatus.DONE:
            return None
        return self.context["request"].build_absolute_uri(
            reverse("api-export-download", args=[obj.pk])
        )
