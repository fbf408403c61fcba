"""Sprints whose responses name their models, for the leaderboard tests: items built from a
``{key: model}`` map, consensus labels stored directly, and judgments stored as submit_judgment
stores them (with their agreement records)."""

from annotation.models import Item, Response, Sprint
from reviews.models import ConsensusLabel
from tests.reviews.agreement_fixtures import store_judgment


def model_item(sprint: Sprint, name: str, models: dict[str, str | tuple[str, str]]) -> Item:
    """An item whose response ``key`` was written by ``models[key]`` (a name, or a (name,
    version) pair; an empty name for a response without a model)."""
    number = Item.objects.filter(sprint=sprint).count()
    item = Item.objects.create(
        sprint=sprint,
        external_id=name,
        prompt=f"Question {name}?",
        content_sha256=f"{sprint.pk:08d}{number:056d}",
    )
    for position, (key, model) in enumerate(models.items()):
        model_name, version = model if isinstance(model, tuple) else (model, "")
        Response.objects.create(
            item=item,
            key=key,
            text=f"answer {key} to {name}",
            position=position,
            model_name=model_name,
            model_version=version,
        )
    return item


def label(item: Item, ranking: list[str] | None) -> ConsensusLabel:
    """The item's consensus label: ``ranking`` best first, or a tie when None."""
    return ConsensusLabel.objects.create(
        sprint=item.sprint,
        item=item,
        ranking=ranking or [],
        tie=ranking is None,
        method="majority",
        confidence=1.0,
    )


def judge(item: Item, user, ranking: list[str] | None) -> None:
    """A live judgment of ``user``: ``ranking`` best first, or a tie when None."""
    answer = {"tie": True} if ranking is None else {"ranking": ranking}
    store_judgment(item, user, {"preference": answer})
