"""The rows of a ``preference`` export's production part, and the columns it adds.

A preference export that holds production pairs (``DatasetVersion.production`` set) has the
sprint columns (exports.services.rows) followed by four provenance columns, on every row of
the file, so that both parts share one schema:

- ``origin``: ``sprints`` (a pair implied by a consensus ranking) or ``production``;
- ``source``: the sprint's slug, or the feedback source's slug;
- ``event_id``: the product's id of the event the pair came from (``""`` for a sprint row);
- ``kind``: ``consensus`` for a sprint row; ``correction`` or ``pick`` for a production row.

A production row is built as a sprint row is: the prompt written by the same
:class:`PromptRendering` (exports.services.rows.export_rendering of the file's filters), with
the documents the model saw (the event's ``context``) where a sprint row has its item's, and
``split`` by the same seeded hash of the prompt as sent, without documents. It has no strength
(``margin`` 0.0, TRL's plain loss), no ``agreement`` and no ``item_id`` (null). An export of
sprints alone keeps its seven columns: nothing changes for its readers.

In the ``grouped`` form the pairs of one event that share a chosen response become one row,
``rejected`` and ``margin`` (all 0.0) the lists of its pairs, in the order they were stored.
Pairs are read in that order and an event's pairs are stored together, so each row is built
from a run of consecutive pairs (exports.services.grouped.group_adjacent_pairs), holding one
run in memory; pairs an event gained later (it was sent again with more alternatives) form a
row of their own.

The builder touches no database: the reader (feedback.services.production_preferences, in
the calling thread) hands it pairs with their text.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from exports.services.grouped import group_adjacent_pairs
from exports.services.labels import ExportCounts
from exports.services.prompt_rendering import PromptRendering, prompt_text
from exports.services.rows import PREFERENCE_COLUMNS, export_rendering, split_of

Row = dict[str, Any]

PROVENANCE_COLUMNS = ("origin", "source", "event_id", "kind")
PRODUCTION_PREFERENCE_COLUMNS = (*PREFERENCE_COLUMNS, *PROVENANCE_COLUMNS)
SPRINT_PAIR_KIND = "consensus"


@dataclass
class ProductionCounts:
    """What the production part put in the file, for the manifest."""

    rows: int = 0
    by_kind: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "rows_by_kind": dict(sorted(self.by_kind.items())),
            "rows_by_source": dict(sorted(self.by_source.items())),
            "rows_by_split": dict(sorted(self.splits.items())),
        }


def production_rows(
    chunks: Iterable[list[dict[str, Any]]],
    filters: dict[str, Any],
    counts: ExportCounts,
    production: ProductionCounts,
) -> Iterator[Row]:
    """One row per production pair, in the order the reader gives them (the grouped form: one
    row per run of an event's pairs with the same chosen response). Counted in ``production``
    and in the file's ``counts`` (rows and splits)."""
    rendering = export_rendering(filters)
    built = _pair_rows(chunks, filters, rendering)
    if rendering.form == "grouped":
        built = group_adjacent_pairs(built, key=_event_and_chosen)
    for row in built:
        split = row["split"]
        production.rows += 1
        production.by_kind[row["kind"]] += 1
        production.by_source[row["source"]] += 1
        production.splits[split] += 1
        counts.rows += 1
        counts.splits[split] += 1
        yield row


def _pair_rows(
    chunks: Iterable[list[dict[str, Any]]], filters: dict[str, Any], rendering: PromptRendering
) -> Iterator[Row]:
    test_fraction, seed = filters["test_fraction"], filters["seed"]
    for chunk in chunks:
        for pair in chunk:
            text = prompt_text(pair["prompt"])
            prompt = rendering.prompt(
                pair["prompt"] if rendering.conversational else text, pair.get("context")
            )
            yield {
                "prompt": prompt,
                "chosen": rendering.response(pair["chosen"]),
                "rejected": rendering.response(pair["rejected"]),
                "margin": 0.0,
                "agreement": None,
                "item_id": None,
                "split": split_of(text, test_fraction, seed),
                "origin": "production",
                "source": pair["source"],
                "event_id": pair["event_id"],
                "kind": pair["kind"],
            }


def _event_and_chosen(row: Row) -> tuple[Any, ...]:
    return row["source"], row["event_id"], row["kind"], row["chosen"]


def sprint_provenance(sprint_slugs: dict[int, str]) -> dict[int, Row]:
    """Sprint id -> the provenance columns of its rows (exports.services.rows adds them)."""
    return {
        sprint_id: {"origin": "sprints", "source": slug, "event_id": "", "kind": SPRINT_PAIR_KIND}
        for sprint_id, slug in sprint_slugs.items()
    }
