"""Erasure: a product's user (or session) asks to be forgotten; their events go, and so does the
labeling work built from them that nobody has done yet.

The id is hashed per source exactly as ingest hashed it (:func:`feedback.services.hashing.id_hash`),
and the events are found by the hash; the id itself is neither stored nor logged.

What :func:`erase_person` removes, in one transaction:

- every event of that person in the sources named (one, or every source the actor manages),
  with their production preferences and sample links (both cascade);
- every annotation item built from those events (``SampledItem``) that nobody has worked on:
  no judgment, flag, dispute or consensus label, nor anything else that protects an item from
  deletion; its assignments (leases nobody has answered) go first, then the item with its
  responses and gold answer;
- from the items somebody has judged: only the link. Their judgments stay untouched; the
  erased events' ids and trace ids leave ``item.metadata["feedback"]`` and the ``SampledItem``
  rows go with the events.

Guarantees: all or nothing (one transaction); the actor must manage every source it touches
(404 for a named source they may not see, 403 when they manage none); the events, the items and
their assignments are locked (``FOR UPDATE``, assignments first as a submit takes them) before
the items are checked for judgments, so a judgment submitted meanwhile either lands first (the
item is kept, unlinked) or finds its assignment gone; one audit event
(``feedback.person_erased``) with the counts and the hashes, never the id.
Erasing someone twice, or someone with no events, removes nothing and reports zeros.
"""

from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models, transaction

from annotation.models import Assignment, Item
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from feedback.models import (
    ErasedEvent,
    FeedbackEvent,
    FeedbackSource,
    ProductionPreference,
    SampledItem,
)
from feedback.services.feedback_access import readable_source, require_feedback_lead
from feedback.services.hashing import IdKind, id_hash

MAX_ID_CHARS = 200  # as ingest takes them


@dataclass(frozen=True)
class ErasureReport:
    events_removed: int
    items_removed: int
    items_unlinked: int
    preferences_removed: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def erase_person(
    actor: AbstractBaseUser,
    *,
    source: FeedbackSource | str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
) -> ErasureReport:
    """Remove the events of one product user or session, and the unjudged items built from them
    (see the module docstring for what goes, what stays and what this guarantees).

    ``source`` is a source or its slug; ``None`` erases in every source ``actor`` manages.
    Exactly one of ``user_id`` and ``session_id``. Raises :class:`ConcordError` and changes
    nothing: 400 naming the field for a missing, doubled or bad id, 404 (``source``) for a
    source the actor may not see, 403 when the actor manages no source."""
    kind, value = _person(user_id, session_id)
    sources = _sources(actor, source)
    with transaction.atomic():
        hashes = {s.pk: id_hash(s.slug, kind, value) for s in sources}
        events = FeedbackEvent.objects.none()
        for s in sources:
            events |= FeedbackEvent.objects.filter(source=s, **{f"{kind}_hash": hashes[s.pk]})
        event_rows = list(
            events.select_for_update(of=("self",))
            .order_by("id")
            .values_list("id", "event_id", "trace_id")
        )
        event_ids = [pk for pk, _, _ in event_rows]
        preferences = ProductionPreference.objects.filter(event_id__in=event_ids).count()
        removed, unlinked = _erase_items(event_rows)
        _remember_erased(sources, event_ids)
        deleted = FeedbackEvent.objects.filter(id__in=event_ids).delete()[1]
        report = ErasureReport(
            events_removed=deleted.get(FeedbackEvent._meta.label, 0),
            items_removed=removed,
            items_unlinked=unlinked,
            preferences_removed=preferences,
        )
        changes: dict[str, Any] = {
            "kind": kind,
            "hashes": {s.slug: hashes[s.pk] for s in sources},
            **report.as_dict(),
        }
        record_event(actor, "feedback.person_erased", sources[0], changes=changes)
    return report


def _person(user_id: str | None, session_id: str | None) -> tuple[IdKind, str]:
    given = {
        name: v for name, v in (("user_id", user_id), ("session_id", session_id)) if v is not None
    }
    if len(given) != 1:
        field = "session_id" if given else "user_id"
        raise ConcordError("Give exactly one of user_id and session_id.", field=field)
    name, value = next(iter(given.items()))
    if not isinstance(value, str) or not value.strip():
        raise ConcordError("must be a non-empty id, as the product sent it.", field=name)
    if len(value) > MAX_ID_CHARS:
        raise ConcordError(f"is longer than {MAX_ID_CHARS} characters.", field=name)
    return ("user" if name == "user_id" else "session"), value


def _sources(actor: AbstractBaseUser, source: FeedbackSource | str | None) -> list[FeedbackSource]:
    if source is None:
        return list(require_feedback_lead(actor).order_by("slug"))
    return [readable_source(actor, source.slug if isinstance(source, FeedbackSource) else source)]


def _erase_items(event_rows: list[tuple[int, str, str]]) -> tuple[int, int]:
    """Delete the unworked items built from the events; strip the events from the metadata of
    the others. Returns (items removed, items unlinked)."""
    event_ids = [pk for pk, _, _ in event_rows]
    item_ids = list(
        SampledItem.objects.filter(event_id__in=event_ids).values_list("item_id", flat=True)
    )
    if not item_ids:
        return 0, 0
    # Assignments before items, the order a submit or a lease release takes them in; then
    # again, for a lease the queue made before the items were locked.
    assignments = Assignment.objects.select_for_update(of=("self",)).filter(item_id__in=item_ids)
    list(assignments.order_by("pk").values_list("pk", flat=True))
    items = list(
        Item.objects.select_for_update(of=("self",)).filter(pk__in=item_ids).order_by("pk")
    )
    list(assignments.order_by("pk").values_list("pk", flat=True))
    kept = _worked_on({item.pk for item in items})
    removable = [item.pk for item in items if item.pk not in kept]
    Assignment.objects.filter(item_id__in=removable).delete()
    Item.objects.filter(pk__in=removable).delete()
    erased_ids = {event_id for _, event_id, _ in event_rows} | set(event_ids)
    erased_traces = {trace for _, _, trace in event_rows if trace}
    unlinked = [item for item in items if item.pk in kept]
    for item in unlinked:
        item.metadata = unlinked_metadata(item.metadata, erased_ids, erased_traces)
    Item.objects.bulk_update(unlinked, ["metadata"])
    return len(removable), len(unlinked)


def _worked_on(item_ids: set[int]) -> set[int]:
    """The items among ``item_ids`` that something other than an assignment protects from
    deletion: judgments and flags here, disputes and consensus labels from the reviews app.
    Read from the model's relations, so this floor needs no import of the floors above it."""
    worked: set[int] = set()
    for relation in Item._meta.related_objects:
        if relation.on_delete is not models.PROTECT or relation.related_model is Assignment:
            continue
        rows = relation.related_model._base_manager.filter(
            **{f"{relation.field.name}__in": item_ids}
        )
        worked |= set(rows.values_list(relation.field.attname, flat=True))
    return worked


def unlinked_metadata(metadata: Any, event_ids: set, trace_ids: set[str]) -> Any:
    """``metadata`` with the erased events' ids (pk or ``event_id``) and trace ids taken out of
    its ``feedback`` entry; everything else as it was."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("feedback"), dict):
        return metadata
    feedback = dict(metadata["feedback"])

    def erased(entry: Any) -> bool:
        if isinstance(entry, dict):
            return any(erased(entry.get(key)) for key in ("id", "event_id"))
        return isinstance(entry, int | str) and entry in event_ids

    if isinstance(feedback.get("events"), list):
        feedback["events"] = [e for e in feedback["events"] if not erased(e)]
    if isinstance(feedback.get("trace_ids"), list):
        feedback["trace_ids"] = [t for t in feedback["trace_ids"] if t not in trace_ids]
    return {**metadata, "feedback": feedback}


def _remember_erased(sources: list[FeedbackSource], event_pks: list[int]) -> None:
    """Tombstones of the erased events (a keyed hash of each ``event_id``), so that ingest
    refuses them if they are sent again (a replayed batch, a client's retry)."""
    slugs = {s.pk: s.slug for s in sources}
    rows = FeedbackEvent.objects.filter(id__in=event_pks).values_list("source_id", "event_id")
    ErasedEvent.objects.bulk_create(
        [ErasedEvent(source_id=source_id, event_key=id_hash(slugs[source_id], "event", event_id))
         for source_id, event_id in rows],
        ignore_conflicts=True,
    )  # fmt: skip
