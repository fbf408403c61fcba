"""Reading a sprint's live judgments for consensus and disputes, an item chunk at a time.

A live judgment is one no revision supersedes. Items are read in id order, ``CHUNK_ITEMS`` at
a time (keyset on the item id), with their responses and live judgments in one query each, so
a sprint of 100,000 items costs a few hundred queries and the memory of one chunk. Answers are
read as JSON text and parsed with orjson, which is several times faster than the JSONField's
own decoding.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.db.models import DateTimeField, F, Q, TextField, Value
from django.db.models.functions import Cast

from annotation.models import Criterion, CriterionKind, Item, Judgment, Response, Sprint

CHUNK_ITEMS = 2000


@dataclass(slots=True)
class LiveJudgment:
    """One live judgment as consensus reads it. ``ranking`` is ``None`` when the judgment
    holds a tie or no usable preference; ``tie`` tells which."""

    id: int
    annotator_id: int
    answers: dict[str, Any]
    ranking: tuple[str, ...] | None
    tie: bool
    strength: int | None
    created_at: datetime | None  # read only for the dispute rules

    @property
    def voted(self) -> bool:
        return self.tie or self.ranking is not None


@dataclass(slots=True)
class ItemJudgments:
    item_id: int
    is_gold: bool
    keys: tuple[str, ...]
    judgments: list[LiveJudgment] = field(default_factory=list)

    @property
    def votes(self) -> list[LiveJudgment]:
        return [judgment for judgment in self.judgments if judgment.voted]


@dataclass(frozen=True)
class RubricShape:
    """What consensus needs of a sprint's rubric: the preference criterion's name and the
    criteria whose answers are averaged per response."""

    preference: str | None
    likert: tuple[str, ...]
    flags: tuple[str, ...]

    @classmethod
    def of(cls, sprint: Sprint) -> "RubricShape":
        criteria = Criterion.objects.filter(rubric_id=sprint.rubric_id).order_by("position", "id")
        preference = None
        likert, flags = [], []
        for name, kind in criteria.values_list("name", "kind"):
            if kind == CriterionKind.PREFERENCE:
                preference = name
            elif kind == CriterionKind.LIKERT:
                likert.append(name)
            elif kind == CriterionKind.FLAG:
                flags.append(name)
        return cls(preference, tuple(likert), tuple(flags))


def parse_preference(
    answers: dict[str, Any], name: str | None, keys: tuple[str, ...] | frozenset[str]
) -> tuple[tuple[str, ...] | None, bool, int | None]:
    """(ranking, tie, strength) of a judgment; a ranking that is not a permutation of the
    item's keys counts as no preference at all."""
    keys = keys if isinstance(keys, frozenset) else frozenset(keys)
    value = answers.get(name) if name else None
    if not isinstance(value, dict):
        return None, False, None
    if value.get("tie") is True:
        return None, True, None
    ranking = value.get("ranking")
    strength = value.get("strength")
    strength = strength if isinstance(strength, int) and not isinstance(strength, bool) else None
    if not isinstance(ranking, list) or len(ranking) != len(keys) or set(ranking) != keys:
        return None, False, None
    return tuple(ranking), False, strength


def _live(row: tuple, keys: frozenset[str], shape: RubricShape) -> LiveJudgment:
    judgment_id, _, annotator_id, text, created_at = row
    answers = orjson.loads(text) if text else {}
    if not isinstance(answers, dict):
        answers = {}
    ranking, tie, strength = parse_preference(answers, shape.preference, keys)
    return LiveJudgment(judgment_id, annotator_id, answers, ranking, tie, strength, created_at)


def _judgment_rows(sprint_id: int, items: Q, times: bool):
    # Parsing a timestamp costs more than parsing the answers; only the dispute rules need it.
    created = F("created_at") if times else Value(None, output_field=DateTimeField())
    return (
        Judgment.objects.filter(items, sprint_id=sprint_id, superseded_by__isnull=True)
        .order_by("item_id", "id")
        .annotate(answers_text=Cast("answers", TextField()), created=created)
        .values_list("id", "item_id", "annotator_id", "answers_text", "created")
    )


def _assemble(
    sprint_id: int, items: list[tuple[int, bool]], shape: RubricShape, judgments: Q, times: bool
) -> list[ItemJudgments]:
    ids = [item_id for item_id, _ in items]
    keys: dict[int, list[str]] = {item_id: [] for item_id in ids}
    for item_id, key in (
        Response.objects.filter(item_id__in=ids)
        .order_by("item_id", "position")
        .values_list("item_id", "key")
    ):
        keys[item_id].append(key)
    out = {
        item_id: ItemJudgments(item_id, is_gold, tuple(keys[item_id])) for item_id, is_gold in items
    }
    key_sets = {item_id: frozenset(item.keys) for item_id, item in out.items()}
    for row in _judgment_rows(sprint_id, judgments, times):
        out[row[1]].judgments.append(_live(row, key_sets[row[1]], shape))
    return list(out.values())


def sprint_item_chunks(
    sprint: Sprint, shape: RubricShape, chunk_items: int = CHUNK_ITEMS, *, times: bool = False
) -> Iterator[list[ItemJudgments]]:
    """Every item of the sprint with its keys and live judgments, ``chunk_items`` at a time in
    id order (``created_at`` read only with ``times``). Reads without locking: each chunk is
    consistent in itself."""
    last = 0
    while True:
        items = list(
            Item.objects.filter(sprint=sprint, pk__gt=last)
            .order_by("pk")
            .values_list("pk", "is_gold")[:chunk_items]
        )
        if not items:
            return
        first, last = items[0][0], items[-1][0]
        judgments = Q(item_id__gte=first, item_id__lte=last)
        yield _assemble(sprint.pk, items, shape, judgments, times)


def item_judgments(item: Item, shape: RubricShape) -> ItemJudgments:
    """One item with its keys and live judgments, times included (two queries)."""
    items = [(item.pk, item.is_gold)]
    return _assemble(item.sprint_id, items, shape, Q(item_id=item.pk), times=True)[0]


def gold_ranking(answers: Any) -> list[str] | None:
    """The known ranking of a gold answer: ``{"ranking": [...]}`` as the import stores it, or
    the same nested under ``"preference"``."""
    if not isinstance(answers, dict):
        return None
    if isinstance(answers.get("preference"), dict):
        answers = answers["preference"]
    ranking = answers.get("ranking")
    return [str(key) for key in ranking] if isinstance(ranking, list) else None
