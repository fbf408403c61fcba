"""Items and their responses, read-only.

Items come only from imports and never change afterwards (judgments refer to them by id and a
re-import recognises them by content digest), so there is no add, change or delete here. Text
from imported data is shown escaped inside ``<pre>``: it may hold HTML or script on purpose.
"""

import json

from django.contrib import admin
from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

from annotation.admin.scoping import ReadOnlyAdmin, ReadOnlyInline, SprintScopedAdmin
from annotation.models import GoldAnswer, Item, Judgment, Response

PRE = '<pre style="white-space: pre-wrap; margin: 0">{}</pre>'


def pretty_json(value: object) -> str:
    return format_html(PRE, json.dumps(value, indent=2, ensure_ascii=False))


class ResponseInline(ReadOnlyInline, admin.StackedInline):
    model = Response
    fields = ["key", "model_name", "model_version", "text_display", "metadata_display"]
    readonly_fields = fields
    extra = 0

    @admin.display(description="text")
    def text_display(self, response: Response) -> str:
        return format_html(PRE, response.text)

    @admin.display(description="metadata")
    def metadata_display(self, response: Response) -> str:
        return pretty_json(response.metadata)


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin, SprintScopedAdmin):
    inlines = [ResponseInline]
    list_display = [
        "external_id",
        "sprint",
        "prompt_preview",
        "stratum",
        "source",
        "is_gold",
        "response_count",
        "live_judgment_count",
    ]
    list_filter = [("sprint", admin.RelatedOnlyFieldListFilter), "is_gold", "source", "stratum"]
    list_select_related = ["sprint"]
    search_fields = ["external_id", "prompt"]
    fields = [
        "external_id",
        "sprint",
        "prompt_display",
        "context_display",
        "metadata_display",
        "source",
        "stratum",
        "is_gold",
        "gold_answer",
        "content_sha256",
        "created_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Item]:
        live = (
            Judgment.objects.filter(item=OuterRef("pk"), superseded_by__isnull=True)
            .order_by()
            .values("item")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                response_total=Count("responses"),
                live_judgment_total=Coalesce(Subquery(live, output_field=IntegerField()), 0),
                has_gold=Exists(GoldAnswer.objects.filter(item=OuterRef("pk"))),
            )
        )

    @admin.display(description="prompt")
    def prompt_preview(self, item: Item) -> str:
        return Truncator(item.prompt_text).chars(90)

    @admin.display(description="responses", ordering="response_total")
    def response_count(self, item: Item) -> int:
        return item.response_total

    @admin.display(description="live judgments", ordering="live_judgment_total")
    def live_judgment_count(self, item: Item) -> int:
        return item.live_judgment_total

    @admin.display(description="prompt")
    def prompt_display(self, item: Item) -> str:
        return format_html(PRE, item.prompt_text)

    @admin.display(description="context documents")
    def context_display(self, item: Item) -> str:
        return pretty_json(item.context) if item.context else "—"

    @admin.display(description="metadata")
    def metadata_display(self, item: Item) -> str:
        return pretty_json(item.metadata)

    @admin.display(description="gold answer")
    def gold_answer(self, item: Item) -> str:
        if not item.has_gold:
            return "—"
        return pretty_json(item.gold.answers)
