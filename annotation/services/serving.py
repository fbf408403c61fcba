"""What an annotator is shown of an item: the one definition the API and the pages share."""

import hashlib
from typing import Any

from annotation.models import Assignment, Item, Response


def served_item(assignment: Assignment) -> dict[str, Any]:
    """The item of an assignment as its annotator may see it: no metadata, model names or gold
    answer, and the responses in an order fixed per assignment (a digest of its id), so that
    position tells nothing about where a response came from and a reload keeps the order."""
    # One query for the fields shown, whatever the queue loaded; responses ordered by position
    # alone, so the models' default orderings add no joins.
    item = Item.objects.only("id", "prompt", "context").get(pk=assignment.item_id)
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
