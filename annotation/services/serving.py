"""What an annotator is shown of an item: the one definition the API and the pages share."""

import hashlib
from collections.abc import Iterable
from typing import Any

from annotation.models import Assignment, Item, Response

SERVED_ITEM_FIELDS = ("id", "prompt", "context")


def served_item(assignment: Assignment) -> dict[str, Any]:
    """The item of an assignment as its annotator may see it: no metadata, model names or gold
    answer, and the responses in an order fixed per assignment (a digest of its id), so that
    position tells nothing about where a response came from and a reload keeps the order.

    No query when the assignment comes with its item's prompt and context loaded and the
    item's ``served_responses`` (a new lease from the queue on PostgreSQL, see
    :func:`annotation.services.labeling_sql.lock_candidate`), one when only the item is
    loaded, two otherwise."""
    item = _loaded_item(assignment)
    if item is None:
        item = Item.objects.only(*SERVED_ITEM_FIELDS).get(pk=assignment.item_id)
    responses = getattr(item, "served_responses", None)
    if responses is None:
        # Ordered by position alone, so the models' default orderings add no joins.
        responses = list(
            Response.objects.filter(item_id=item.pk).order_by("position").values("key", "text")
        )
    place = seen_as(assignment.pk, [r["key"] for r in responses])
    responses.sort(key=lambda r: place[r["key"]])
    return {
        "id": item.pk,
        "prompt": item.prompt,
        "context": item.context,
        "responses": [{"id": r["key"], "text": r["text"]} for r in responses],
    }


def served_order(assignment_id: int, keys: Iterable[str]) -> list[str]:
    """The response keys of an item in the order the annotator of ``assignment_id`` saw them,
    first shown first. Deterministic (a digest of the assignment's id and each key), so a
    reload, the API and a reviewer reading the judgment later all agree on it."""
    seed = hashlib.sha256(f"{assignment_id}".encode()).digest()
    return sorted(keys, key=lambda key: hashlib.sha256(seed + key.encode()).digest())


def seen_as(assignment_id: int, keys: Iterable[str]) -> dict[str, int]:
    """For each stored response key, the number N of "Response N" under which the annotator
    of ``assignment_id`` saw it. A rationale that says "Response 1" means the key mapped to 1
    here, not the first stored response: reviewers and leads are shown this mapping beside
    every judgment."""
    return {key: number for number, key in enumerate(served_order(assignment_id, keys), start=1)}


def seen_legend(seen: dict[str, int]) -> str:
    """A :func:`seen_as` mapping in the annotator's order: "Response 1 = b, Response 2 = a"."""
    ordered = sorted(seen.items(), key=lambda pair: pair[1])
    return ", ".join(f"Response {number} = {key}" for key, number in ordered)


def _loaded_item(assignment: Assignment) -> Item | None:
    if not Assignment.item.is_cached(assignment):
        return None
    item = assignment.item
    if item.get_deferred_fields() & set(SERVED_ITEM_FIELDS):
        return None
    return item
