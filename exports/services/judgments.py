"""The ``judgments`` export: every live judgment of the sprints, annotators pseudonymised.

"Live" means not superseded: a revision replaces the judgment it revises, and ``revision_of``
names the replaced one. Annotators appear only as pseudonyms: the member's ``pseudonym`` when a
lead set one, otherwise ``annotator-`` and ten hex digits of an HMAC of the user id under the
deployment's secret key, stable across exports (rows of one annotator can be grouped, and two
exports agree) but not reversible by hashing every user id. Usernames never appear.
"""

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from django.conf import settings
from django.db.models import Exists, F, OuterRef, TextField
from django.db.models.functions import Cast

from annotation.models import Item, ItemFlag, Judgment, SprintMember
from exports.services.labels import CHUNK_ITEMS, ExportCounts

Row = dict[str, Any]

JUDGMENT_COLUMNS = (
    "judgment_id", "item_id", "external_id", "sprint_id", "annotator", "rubric", "answers",
    "seconds", "revision_of", "created_at",
)  # fmt: skip


def derived_pseudonym(user_id: int) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"annotator:{user_id}".encode(), hashlib.sha256)
    return "annotator-" + mac.hexdigest()[:10]


def pseudonyms(sprint_ids: list[int]) -> dict[tuple[int, int], str]:
    """(sprint, user) → the name the exports use for that member."""
    return {
        (sprint_id, user_id): pseudonym or derived_pseudonym(user_id)
        for sprint_id, user_id, pseudonym in SprintMember.objects.filter(
            sprint_id__in=sprint_ids
        ).values_list("sprint_id", "user_id", "pseudonym")
    }


def annotator_pseudonyms(sprint_ids: list[int]) -> list[str]:
    """The pseudonyms of everyone with a live judgment in the sprints, sorted (the manifest's
    list: who labelled this data, without saying who they are)."""
    names = pseudonyms(sprint_ids)
    judged = (
        Judgment.objects.filter(sprint_id__in=sprint_ids, superseded_by__isnull=True)
        .values_list("sprint_id", "annotator_id")
        .distinct()
    )
    return sorted({names.get((s, u)) or derived_pseudonym(u) for s, u in judged.order_by()})


def live_judgments(sprint_ids: list[int], filters: dict[str, Any], counts: ExportCounts):
    """The judgments to export, counting the items the filters leave out: gold items unless
    ``include_gold`` (their judgments are answers to a known answer), and flagged items (an
    ItemFlag) when ``exclude_flagged``."""
    live = Judgment.objects.filter(sprint_id__in=sprint_ids, superseded_by__isnull=True)
    items = Item.objects.filter(sprint_id__in=sprint_ids)
    if not filters["include_gold"]:
        if gold := items.filter(is_gold=True).count():
            counts.items_dropped["gold"] += gold
        live = live.filter(item__is_gold=False)
        items = items.filter(is_gold=False)
    if filters["exclude_flagged"]:
        has_flag = ItemFlag.objects.filter(item_id=OuterRef("pk"))
        if flagged := items.filter(Exists(has_flag)).count():
            counts.items_dropped["flagged"] += flagged
        live = live.exclude(Exists(ItemFlag.objects.filter(item_id=OuterRef("item_id"))))
    counts.items_kept = live.values("item_id").distinct().count()
    return live


def read_judgment_chunks(live, chunk_rows: int = CHUNK_ITEMS * 2) -> Iterator[list[tuple]]:
    """Live judgments in id order, a chunk at a time, by keyset pagination on the id."""
    last = 0
    while True:
        chunk = list(
            live.filter(pk__gt=last)
            .annotate(answers_text=Cast(F("answers"), output_field=TextField()))
            .order_by("pk")
            .values_list(
                "pk", "item_id", "item__external_id", "sprint_id", "annotator_id", "rubric_id",
                "rubric__name", "rubric__version", "answers_text", "seconds", "supersedes_id",
                "created_at",
            )[:chunk_rows]
        )  # fmt: skip
        if not chunk:
            return
        last = chunk[-1][0]
        yield chunk


def judgment_rows(
    chunks: Iterable[list[tuple]], names: dict[tuple[int, int], str], counts: ExportCounts
) -> Iterator[Row]:
    """One row per judgment; ``names`` maps (sprint, user) to pseudonyms (:func:`pseudonyms`)."""
    rubric_names: dict[int, str] = {}
    for chunk in chunks:
        for r in chunk:
            rubric = rubric_names.setdefault(r[5], f"{r[6]} v{r[7]}")
            counts.rows += 1
            yield {
                "judgment_id": r[0],
                "item_id": r[1],
                "external_id": r[2],
                "sprint_id": r[3],
                "annotator": names.get((r[3], r[4])) or derived_pseudonym(r[4]),
                "rubric": rubric,
                "answers": orjson.loads(r[8]),
                "seconds": r[9],
                "revision_of": r[10],
                "created_at": r[11].isoformat(),
            }
