"""Sprints with consensus labels, and a one-call export, for the export tests. Labels are
written directly, as the consensus service would write them, so that these tests do not depend
on how labels are computed."""

import orjson

from annotation.models import GoldAnswer, Item, ItemFlag, Response
from exports.models import DatasetVersion, ExportStatus
from exports.services.build import build_dataset, start_export
from exports.services.files import final_path
from reviews.models import ConsensusLabel, ConsensusMethod


def labelled_item(
    sprint, n: int, *, ranking=("a", "b"), texts=None, prompt=None, gold=False,
    method=ConsensusMethod.MAJORITY, agreement=1.0, strength=2.0, tie=False, answers=None,
    context=None,
) -> Item:  # fmt: skip
    item = Item.objects.create(
        sprint=sprint,
        external_id=f"{sprint.slug}-{n}",
        prompt=prompt if prompt is not None else f"Question {n} of {sprint.slug}?",
        context=context or [],
        is_gold=gold,
        content_sha256=f"{sprint.pk:08d}{n:056d}",
    )
    for position, key in enumerate(sorted(ranking)):
        text = (texts or {}).get(key, f"answer {key} to question {n}")
        Response.objects.create(item=item, key=key, text=text, position=position)
    if gold:
        GoldAnswer.objects.create(item=item, answers={"preference": {"ranking": list(ranking)}})
    ConsensusLabel.objects.create(
        sprint=sprint, item=item, ranking=[] if tie else list(ranking), tie=tie,
        strength=None if tie else strength, method=method, confidence=0.9, agreement=agreement,
        answers=answers or {}, judgment_ids=[],
    )  # fmt: skip
    return item


def flag(item, user, reason="broken") -> ItemFlag:
    return ItemFlag.objects.create(sprint=item.sprint, item=item, annotator=user, reason=reason)


def export(lead, sprints, kind="preference", fmt="jsonl", **filters) -> DatasetVersion:
    """Start and build an export in this process; fails the test unless it is done."""
    sprints = sprints if isinstance(sprints, list) else [sprints]
    dataset = start_export(
        lead,
        {"sprints": [s.pk for s in sprints], "kind": kind, "format": fmt, "filters": filters},
        enqueue_build=False,
    )
    dataset = build_dataset(dataset.pk)
    assert dataset.status == ExportStatus.DONE, dataset.error
    return dataset


def jsonl(dataset) -> list[dict]:
    return [orjson.loads(line) for line in final_path(dataset).read_bytes().splitlines()]
