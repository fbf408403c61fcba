"""Consensus labels for an export: read a chunk at a time, then filtered and assembled.

Reading (:func:`read_label_chunks`, the only part that queries) takes three index range scans a
chunk, whatever the sprint's size: the last item id of the next ``CHUNK_ITEMS`` labels after
the last one seen (keyset pagination on ``item_id``), then the labelled items and their
responses whose ids lie in that range. No query walks a table from its start and nothing is held
beyond a chunk, so a million pairs need the memory of a few thousand. JSON columns are read as
text and parsed with orjson, several times faster than the JSONField's own decoding; a string
prompt is unescaped by the database itself.

Assembling (:func:`labelled_items`) touches no database, so it can run in the builder thread
(exports.services.pipeline). What the filters drop is counted item by item in
:class:`ExportCounts`, under these reasons: ``gold`` (unless ``include_gold``),
``not_adjudicated`` (``adjudicated_only``), ``flagged`` (``exclude_flagged``: an annotator filed
an ItemFlag on the item, or the consensus marks one of its responses with a flag criterion by a
majority, a share above one half), ``low_agreement`` (item agreement missing or under
``min_agreement``), ``tie`` (a tie ranks nothing; the consensus export keeps ties),
``incomplete_ranking`` (fewer than two ranked responses, or a key with no response), and
``no_consensus`` (an item of the sprints with no consensus label yet).
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db.models import Case, Exists, F, Func, Max, OuterRef, TextField, When
from django.db.models.functions import Cast

from annotation.models import CriterionKind, Item, ItemFlag, Response, Sprint
from reviews.models import ConsensusLabel, ConsensusMethod

CHUNK_ITEMS = 4000
# One row per labelled item: the label's columns, then the item's. ``context`` adds the
# context documents (a preference export that renders them), ``full`` those and the judgments.
ROW_COLUMNS = (
    "pk", "consensus__sprint_id", "ranking_text", "consensus__tie", "consensus__strength",
    "consensus__agreement", "consensus__method", "consensus__confidence", "answers_text",
    "prompt_string", "prompt_text", "is_gold", "flagged", "external_id", "context_text",
    "judgments_text",
)  # fmt: skip
ITEM_ID, SPRINT_ID, RANKING, TIE, STRENGTH, AGREEMENT, METHOD, CONFIDENCE = range(8)
ANSWERS, PROMPT_STRING, PROMPT_JSON, IS_GOLD, FLAGGED, EXTERNAL_ID = range(8, 14)
CONTEXT, JUDGMENTS = 14, 15


@dataclass
class ExportCounts:
    items_kept: int = 0
    items_dropped: Counter = field(default_factory=Counter)
    rows: int = 0
    splits: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "items_kept": self.items_kept,
            "items_dropped": dict(sorted(self.items_dropped.items())),
            "rows": self.rows,
            "rows_by_split": dict(sorted(self.splits.items())),
        }


@dataclass(frozen=True)
class LabelChunk:
    """What one chunk's queries returned: a row per labelled item (``ROW_COLUMNS``; the prompt
    is in ``prompt_string`` when it is a string, else JSON in ``prompt_text``), and
    (item_id, key, text) response rows, both in item-id order."""

    rows: list[tuple]
    responses: list[tuple]


@dataclass(slots=True)
class LabelledItem:
    """One item that passed the filters, with its consensus label and its responses by key."""

    item_id: int
    sprint_id: int
    prompt: Any
    ranking: list[str]
    tie: bool
    strength: float | None
    agreement: float | None
    method: str
    confidence: float
    responses: dict[str, str]
    external_id: str = ""
    context: Any = None
    answers: Any = None
    judgments: int = 0


def _json(column: str) -> Cast:
    return Cast(F(column), output_field=TextField())


class JSONStringText(Func):
    """The text of a JSON string value, unescaped by the database, so a million prompts need
    not be JSON-decoded here; NULL when the value is not a string (a chat prompt), or on a
    database this does not know, where the caller decodes :func:`_json` instead."""

    output_field = TextField()

    def as_sql(self, compiler, connection, **extra_context):
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CASE WHEN jsonb_typeof({sql}) = 'string' THEN {sql} #>> '{{}}' END", params * 2

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CASE WHEN json_type({sql}) = 'text' THEN json_extract({sql}, '$') END", params * 2


def flag_criteria(sprint_ids: list[int]) -> frozenset[str]:
    """Names of the flag criteria of the sprints' rubrics."""
    return frozenset(
        Sprint.objects.filter(pk__in=sprint_ids, rubric__criteria__kind=CriterionKind.FLAG)
        .values_list("rubric__criteria__name", flat=True)
        .distinct()
    )


def read_label_chunks(
    sprint_ids: list[int],
    *,
    full: bool = False,
    context: bool = False,
    chunk_items: int = CHUNK_ITEMS,
) -> Iterator[LabelChunk]:
    """The sprints' labelled items with their labels and responses, in item-id order.
    ``context`` also reads the items' context documents (a preference export that puts them in
    the prompt); ``full`` reads what the consensus export needs (context, judgment ids)."""
    labels = ConsensusLabel.objects.filter(sprint_id__in=sprint_ids).order_by("item_id")
    columns = ROW_COLUMNS if full else ROW_COLUMNS[: JUDGMENTS if context else CONTEXT]
    last = 0
    while True:
        # The chunk is the next ``chunk_items`` labels: find its last item id (an index-only
        # scan), then read items, labels and responses by that id range.
        after = labels.filter(item_id__gt=last)
        upper = list(after.values_list("item_id", flat=True)[chunk_items - 1 : chunk_items])
        high = upper[0] if upper else after.aggregate(high=Max("item_id"))["high"]
        if high is None:
            return
        low, last = last + 1, high
        rows = list(
            Item.objects.filter(
                pk__gte=low, pk__lte=high, consensus__item_id__gte=low,
                consensus__item_id__lte=high, consensus__sprint_id__in=sprint_ids,
            )  # the bounds on both sides let the database merge two index range scans
            .annotate(
                ranking_text=_json("consensus__ranking"),
                answers_text=_json("consensus__answers"),
                judgments_text=_json("consensus__judgment_ids"),
                prompt_string=JSONStringText("prompt"),
                prompt_text=Case(When(prompt_string__isnull=True, then=_json("prompt"))),
                context_text=_json("context"),
                flagged=Exists(ItemFlag.objects.filter(item_id=OuterRef("pk"))),
            )
            .order_by("pk")
            .values_list(*columns)
        )  # fmt: skip
        responses = list(
            Response.objects.filter(
                item_id__gte=low, item_id__lte=high,
                item_id__in=labels.filter(item_id__gte=low, item_id__lte=high).values("item_id"),
            )
            .order_by("item_id", "position")
            .values_list("item_id", "key", "text")
        )  # fmt: skip
        yield LabelChunk(rows=rows, responses=responses)


def labelled_items(
    chunk: LabelChunk,
    filters: dict[str, Any],
    counts: ExportCounts,
    *,
    flags: frozenset[str] = frozenset(),
    full: bool = False,
    context: bool = False,
) -> list[LabelledItem]:
    """The chunk's items that pass ``filters``, in item-id order, counting what is dropped and
    why. ``flags`` names the flag criteria (for ``exclude_flagged``); ``full`` (the consensus
    export) keeps ties and fills in external id, context, answers and the judgment count;
    ``context`` fills in the context (read with :func:`read_label_chunks`'s ``context``)."""
    loads = orjson.loads
    kept: list[LabelledItem] = []
    by_id: dict[int, dict[str, str]] = {}
    read_answers = full or (filters["exclude_flagged"] and bool(flags))
    # Without these filters only gold and ties can drop an item: test those two inline.
    few_filters = not (
        filters["adjudicated_only"]
        or filters["exclude_flagged"]
        or filters["min_agreement"] is not None
    )
    for row in chunk.rows:
        answers = loads(row[ANSWERS]) if read_answers else None
        if few_filters and not row[IS_GOLD] and not row[TIE]:
            pass
        elif reason := _drop_reason(row, filters, answers, flags, drop_ties=not full):
            counts.items_dropped[reason] += 1
            continue
        responses: dict[str, str] = {}
        by_id[row[ITEM_ID]] = responses
        prompt = row[PROMPT_STRING]
        entry = LabelledItem(
            row[ITEM_ID], row[SPRINT_ID], prompt if prompt is not None else loads(row[PROMPT_JSON]),
            loads(row[RANKING]), row[TIE], row[STRENGTH], row[AGREEMENT], row[METHOD],
            row[CONFIDENCE], responses, row[EXTERNAL_ID],
        )  # fmt: skip
        if full:
            entry.context, entry.answers = loads(row[CONTEXT]), answers
            entry.judgments = len(loads(row[JUDGMENTS]))
        elif context:
            entry.context = loads(row[CONTEXT])
        kept.append(entry)
    for item_id, key, text in chunk.responses:
        if (responses := by_id.get(item_id)) is not None:
            responses[key] = text
    return kept


def _flagged_by_answers(answers: dict[str, Any], flags: frozenset[str]) -> bool:
    for name in flags & answers.keys():
        shares = answers[name]
        if isinstance(shares, dict) and any(
            v is True or (isinstance(v, int | float) and v > 0.5) for v in shares.values()
        ):
            return True
    return False


def _drop_reason(
    row: tuple, filters: dict[str, Any], answers: Any, flags: frozenset[str], *, drop_ties: bool
) -> str | None:
    if row[IS_GOLD] and not filters["include_gold"]:
        return "gold"
    if filters["adjudicated_only"] and row[METHOD] != ConsensusMethod.ADJUDICATED:
        return "not_adjudicated"
    if filters["exclude_flagged"] and (
        row[FLAGGED] or (isinstance(answers, dict) and _flagged_by_answers(answers, flags))
    ):
        return "flagged"
    minimum = filters["min_agreement"]
    if minimum is not None and (row[AGREEMENT] is None or row[AGREEMENT] < minimum):
        return "low_agreement"
    if row[TIE] and drop_ties:
        return "tie"
    return None


def count_unlabelled(sprint_ids: list[int], counts: ExportCounts) -> None:
    missing = Item.objects.filter(sprint_id__in=sprint_ids, consensus__isnull=True).count()
    if missing:
        counts.items_dropped["no_consensus"] += missing
