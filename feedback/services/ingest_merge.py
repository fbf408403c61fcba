"""What a known event gains when it is sent again: regenerations, a pick, a correction.

The prompts-to-regenerate list sends negative single-response events to the product team, and
their new answers come back through ingest as ``alternatives`` of the same ``event_id``. Such a
replay adds to the stored event, under its row lock, only what it lacks:

- alternatives whose ids it does not hold, up to ``MAX_ALTERNATIVES`` in all (a replay that
  would pass it is rejected as a whole, naming ``alternatives``);
- the user's ``picked`` response, when the stored event has none and the id names a response
  shown (the stored response, or an alternative marked ``shown``);
- a correction or a comment, when the stored event has none;
- every other signal the stored event lacks (a thumb or stars sent after the answer was logged,
  a re-ask noticed later).

A replay whose prompt or response differs from the stored event's is refused (an ``event_id``
names one answered prompt). Nothing already stored is replaced, so replaying an old copy can
never undo a newer one; an event whose text was purged gains nothing. The texts arrive
redacted; the placeholders in what is added are counted into the event's redaction counts.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from feedback.models import FeedbackEvent, FeedbackSource
from feedback.services.event_reader import THUMBS
from feedback.services.event_schema import (
    CORRECTION_ID,
    MAX_ALTERNATIVES,
    IncomingEvent,
)
from feedback.services.redaction import PiiType

PLACEHOLDER = re.compile(r"\[(" + "|".join(t.value.upper() for t in PiiType) + r")\]")


@dataclass
class MergeOutcome:
    changed: dict[str, int] = field(default_factory=dict)  # event_id -> pk
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)  # event_id -> field, why
    redactions: Counter[str] = field(default_factory=Counter)


def placeholder_counts(texts: list[str]) -> Counter[str]:
    """How many spans of each PII type the redacted ``texts`` hold."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(match.lower() for match in PLACEHOLDER.findall(text))
    return counts


def merge_known_events(source: FeedbackSource, events: list[IncomingEvent]) -> MergeOutcome:
    """Add to the stored events of ``source`` what ``events`` (already known ids) bring new.
    Locks the rows in ``event_id`` order, as the insert does, so batches never deadlock."""
    outcome = MergeOutcome()
    bringing = {e.event_id: e for e in events}
    if not bringing:
        return outcome
    stored = (
        FeedbackEvent.objects.select_for_update()
        .filter(source=source, event_id__in=list(bringing), text_purged_at__isnull=True)
        .order_by("event_id")
        .only("pk", "event_id", "prompt", "response", "alternatives", "response_id",
              "correction", "comment", "signals", "outcome", "redaction_counts")
    )  # fmt: skip
    for row in stored:
        changes = _changes(row, bringing[row.event_id])
        if isinstance(changes, tuple):
            outcome.refused[row.event_id] = changes
        elif changes:
            added = changes.pop("added")
            FeedbackEvent.objects.filter(pk=row.pk).update(**changes)
            outcome.changed[row.event_id] = row.pk
            outcome.redactions.update(added)
    return outcome


def _changes(row: FeedbackEvent, incoming: IncomingEvent) -> dict[str, Any] | tuple[str, str]:
    """The column updates ``incoming`` brings to ``row`` (and, as ``added``, the redactions in
    what it adds); the field and the reason when it is refused."""
    for name, stored, sent in (
        ("prompt", row.prompt, incoming.prompt),
        ("response", (row.response_id, row.response), (incoming.response_id, incoming.response)),
    ):
        if stored != sent:
            return name, "differs from the stored event with this event_id; send it as is"
    held = {row.response_id, CORRECTION_ID, *(a["id"] for a in row.alternatives)}
    new = [a for a in incoming.alternatives if a["id"] not in held]
    alternatives = [*row.alternatives, *new]
    if len(alternatives) > MAX_ALTERNATIVES:
        return "alternatives", (
            f"would give the event {len(alternatives)} alternatives; the limit is "
            f"{MAX_ALTERNATIVES}"
        )
    signals = dict(row.signals)
    for key, value in incoming.signals.items():
        if key != "picked":
            signals.setdefault(key, value)
    picked = incoming.signals.get("picked")
    shown = {row.response_id} | {a["id"] for a in alternatives if a.get("shown")}
    if picked and "picked" not in signals and picked in shown:
        signals["picked"] = picked
    correction = row.correction or incoming.correction
    if correction != row.correction:
        signals["outcome"] = "corrected"
    comment = row.comment or incoming.comment
    unchanged_texts = (correction, comment) == (row.correction, row.comment)
    if not new and signals == row.signals and unchanged_texts:
        return {}
    added = placeholder_counts(
        [a["text"] for a in new]
        + ([correction] if correction != row.correction else [])
        + ([comment] if comment != row.comment else [])
    )
    return {
        "alternatives": alternatives,
        "signals": signals,
        "correction": correction,
        "comment": comment,
        **signal_columns(signals),
        "response_count": 1 + len(alternatives) + (1 if correction else 0),
        "redaction_counts": dict(Counter(row.redaction_counts) + added),
        "added": added,
    }


def signal_columns(signals: dict[str, Any]) -> dict[str, Any]:
    """The signals the dashboard and the samples filter on, as their own columns."""
    return {
        "thumb": THUMBS.get(signals.get("thumb", "")),
        "stars": signals.get("stars"),
        "outcome": signals.get("outcome", ""),
        "reasked": signals.get("reasked"),
        "escalated": signals.get("escalated"),
    }
