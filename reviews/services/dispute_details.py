"""What a reviewer sees of a dispute: the item, every live judgment unblinded with its
annotator's track record, the flags, the gold answer of a gold item, and the current label.

For reviewers and leads only; callers check the role first. The responses are shown in stored
order, without model names: a reviewer judges the answers, not their source. Each annotator saw
them shuffled as "Response 1, 2, ...", so every judgment carries ``seen_as`` (stored key → the N of
the "Response N" that annotator saw): a rationale's "Response 1" is read through it.
A page of disputes costs the same handful of queries as one dispute.
"""

from collections import defaultdict

from django.contrib.auth import get_user_model

from annotation.models import GoldAnswer, Item, ItemFlag, Judgment, Response, Sprint
from annotation.services.serving import seen_as
from reviews.models import ConsensusLabel, Dispute
from reviews.services.consensus_data import gold_ranking
from reviews.services.track_records import track_records

LABEL_FIELDS = ("ranking", "tie", "method", "confidence", "strength", "agreement", "answers")


def _person(user_id: int | None, names: dict[int, str]) -> dict | None:
    if user_id is None:
        return None
    return {"id": user_id, "username": names.get(user_id, "")}


def dispute_details(disputes: list[Dispute]) -> list[dict]:
    """One JSON-ready dict per dispute, in the order given."""
    if not disputes:
        return []
    item_ids = [dispute.item_id for dispute in disputes]
    items = {
        row["id"]: row
        for row in Item.objects.filter(pk__in=item_ids).values(
            "id", "external_id", "prompt", "context", "is_gold"
        )
    }
    responses = defaultdict(list)
    for item_id, key, text in (
        Response.objects.filter(item_id__in=item_ids)
        .order_by("item_id", "position")
        .values_list("item_id", "key", "text")
    ):
        responses[item_id].append({"id": key, "text": text})
    gold = {
        item_id: gold_ranking(answers)
        for item_id, answers in GoldAnswer.objects.filter(item_id__in=item_ids).values_list(
            "item_id", "answers"
        )
    }
    judgments = defaultdict(list)
    for row in (
        Judgment.objects.filter(item_id__in=item_ids, superseded_by__isnull=True)
        .order_by("item_id", "created_at", "id")
        .values(
            "id", "item_id", "assignment_id", "annotator_id", "answers", "seconds", "created_at"
        )
    ):
        judgments[row["item_id"]].append(row)
    flags = defaultdict(list)
    for row in (
        ItemFlag.objects.filter(item_id__in=item_ids)
        .order_by("item_id", "created_at")
        .values("item_id", "annotator_id", "reason", "created_at")
    ):
        flags[row["item_id"]].append(row)
    labels = {
        row["item_id"]: {name: row[name] for name in LABEL_FIELDS}
        for row in ConsensusLabel.objects.filter(item_id__in=item_ids).values(
            "item_id", *LABEL_FIELDS
        )
    }
    people = {row["annotator_id"] for rows in judgments.values() for row in rows}
    people |= {row["annotator_id"] for rows in flags.values() for row in rows}
    people |= {dispute.resolved_by_id for dispute in disputes if dispute.resolved_by_id}
    names = dict(get_user_model().objects.filter(pk__in=people).values_list("pk", "username"))
    records = _records_by_sprint(disputes, judgments)
    return [
        {
            "id": dispute.pk,
            "sprint": dispute.sprint_id,
            "status": dispute.status,
            "reasons": dispute.reasons,
            "opened_at": dispute.opened_at,
            "resolved_at": dispute.resolved_at,
            "resolved_by": _person(dispute.resolved_by_id, names),
            "final_ranking": dispute.final_ranking,
            "final_answers": dispute.final_answers,
            "rationale": dispute.rationale,
            "item": {
                **items[dispute.item_id],
                "gold": gold.get(dispute.item_id) if items[dispute.item_id]["is_gold"] else None,
                "responses": responses[dispute.item_id],
            },
            "judgments": [
                {
                    "id": row["id"],
                    "annotator": _person(row["annotator_id"], names),
                    "answers": row["answers"],
                    "seen_as": seen_as(
                        row["assignment_id"], [r["id"] for r in responses[dispute.item_id]]
                    ),
                    "seconds": row["seconds"],
                    "created_at": row["created_at"],
                    "track_record": records[dispute.sprint_id][row["annotator_id"]],
                }
                for row in judgments[dispute.item_id]
            ],
            "flags": [
                {
                    "annotator": _person(row["annotator_id"], names),
                    "reason": row["reason"],
                    "created_at": row["created_at"],
                }
                for row in flags[dispute.item_id]
            ],
            "consensus": labels.get(dispute.item_id),
        }
        for dispute in disputes
    ]


def _records_by_sprint(disputes: list[Dispute], judgments: dict) -> dict[int, dict]:
    annotators: dict[int, set[int]] = defaultdict(set)
    for dispute in disputes:
        annotators[dispute.sprint_id] |= {row["annotator_id"] for row in judgments[dispute.item_id]}
    sprints = Sprint.objects.select_related("rubric").in_bulk(list(annotators))
    out = {}
    for sprint_id, ids in annotators.items():
        sprint = sprints[sprint_id]
        preference = sprint.rubric.preference_criterion()
        out[sprint_id] = track_records(sprint, sorted(ids), preference.name if preference else None)
    return out
