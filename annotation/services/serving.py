"""What an annotator is shown of an item: the one definition the API and the pages share."""

import hashlib
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
    seed = hashlib.sha256(f"{assignment.pk}".encode()).digest()
    responses.sort(key=lambda r: hashlib.sha256(seed + r["key"].encode()).digest())
    return {
        "id": item.pk,
        "prompt": item.prompt,
        "context": item.context,
        "responses": [{"id": r["key"], "text": r["text"]} for r in responses],
    }


def _loaded_item(assignment: Assignment) -> Item | None:
    if not Assignment.item.is_cached(assignment):
        return None
    item = assignment.item
    if item.get_deferred_fields() & set(SERVED_ITEM_FIELDS):
        return None
    return item
