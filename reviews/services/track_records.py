"""Each annotator's track record in a sprint, as a reviewer weighs their judgment of a dispute.

Over the annotator's live judgments in the sprint:

- ``judgments``: how many;
- ``skipped``: assignments they gave back;
- ``gold_accuracy`` over ``gold_items``: the share of gold items whose ranking they gave
  exactly (a tie never matches a gold ranking);
- ``consensus_agreement`` over ``consensus_items``: the share of labelled items where their
  preference equals the item's consensus label exactly (ranking for ranking, tie for tie).
  Their own vote is part of that label, so this reads "how often they end up on the side that
  wins", not a leave-one-out figure (the agreement report has that one).

One grouped query for all the annotators asked about, whatever the sprint's size: the
rankings are compared in the database as canonical JSON text.
"""

from django.db.models import Count, F, Func, Q, TextField
from django.db.models.fields.json import KT, KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce

from annotation.models import Assignment, Judgment, Sprint
from annotation.models.judgments import AssignmentStatus


class CanonicalJSONText(Func):
    """JSON text in one spelling, so that equal JSON compares equal as text: PostgreSQL
    prints jsonb canonically already; SQLite's JSON() removes the spaces Django writes."""

    output_field = TextField()
    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="JSON(%(expressions)s)")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def track_records(sprint: Sprint, annotator_ids: list[int], preference: str | None) -> dict:
    """``{annotator_id: {"judgments", "skipped", "gold_items", "gold_accuracy",
    "consensus_items", "consensus_agreement"}}`` for the given annotators."""
    records = {
        annotator_id: {
            "judgments": 0,
            "skipped": 0,
            "gold_items": 0,
            "gold_accuracy": None,
            "consensus_items": 0,
            "consensus_agreement": None,
        }
        for annotator_id in annotator_ids
    }
    if not annotator_ids:
        return records
    judgments = Judgment.objects.filter(
        sprint=sprint, annotator_id__in=annotator_ids, superseded_by__isnull=True
    )
    if preference:
        given = CanonicalJSONText(KT(f"answers__{preference}__ranking"))
        agreed = Q(given=F("consensus")) | Q(
            **{f"answers__{preference}__tie": True}, item__consensus__tie=True
        )
        rows = (
            judgments.annotate(
                given=given,
                consensus=CanonicalJSONText(Cast("item__consensus__ranking", TextField())),
                gold=CanonicalJSONText(
                    Coalesce(
                        # KT() reads "item__gold__answers__..." as a JSON path inside
                        # item_id; the transforms follow the relation first.
                        KeyTextTransform("ranking", "item__gold__answers"),
                        KeyTextTransform(
                            "ranking", KeyTransform("preference", "item__gold__answers")
                        ),
                    )
                ),
            )
            .order_by()
            .values("annotator_id")
            .annotate(
                total=Count("id"),
                consensus_items=Count("id", filter=Q(item__consensus__isnull=False)),
                consensus_agreed=Count("id", filter=Q(item__consensus__isnull=False) & agreed),
                gold_items=Count("id", filter=Q(item__is_gold=True, gold__isnull=False)),
                gold_right=Count("id", filter=Q(item__is_gold=True, given=F("gold"))),
            )
        )
    else:
        rows = judgments.order_by().values("annotator_id").annotate(total=Count("id"))
    for row in rows:
        record = records[row["annotator_id"]]
        record["judgments"] = row["total"]
        record["gold_items"] = row.get("gold_items", 0)
        record["gold_accuracy"] = _share(row.get("gold_right", 0), record["gold_items"])
        record["consensus_items"] = row.get("consensus_items", 0)
        record["consensus_agreement"] = _share(
            row.get("consensus_agreed", 0), record["consensus_items"]
        )
    for annotator_id, count in (
        Assignment.objects.filter(
            sprint=sprint, annotator_id__in=annotator_ids, status=AssignmentStatus.SKIPPED
        )
        .order_by()
        .values("annotator_id")
        .annotate(n=Count("id"))
        .values_list("annotator_id", "n")
    ):
        records[annotator_id]["skipped"] = count
    return records
