"""Drawing a feedback sample: which events become items, read without writing anything
(:mod:`feedback.services.sampling` writes them).

The candidates are the events that match the filters, still hold their text and have at least
two responses (``response_count >= 2``), less those already linked to an item of the sprint.
Only their ids and strata are read at first; texts are read for the events drawn, a batch at a
time, in each stratum's seeded order (:func:`~feedback.services.sample_allocation.draw_order`),
so memory holds the chosen events, never every candidate's text.
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice

from django.db.models import QuerySet

from annotation.models import Item
from annotation.services.access import sprints_led_by
from annotation.services.errors import ConcordError
from feedback.models import FeedbackEvent, FeedbackSample, FeedbackSource, SampledItem
from feedback.services.event_reader import THUMBS
from feedback.services.feedback_access import may_manage_source
from feedback.services.sample_allocation import draw_order, equal_weights, largest_remainder
from feedback.services.sample_items import EVENT_FIELDS, SampledContent, sampled_content

BATCH = 200  # events whose text is read at once


@dataclass
class Draw:
    """What a draw chose, before anything is written."""

    chosen: list[tuple[SampledContent, str]] = field(default_factory=list)
    per_stratum: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    outside_strata: int = 0


def matching_events(sample: FeedbackSample) -> QuerySet[FeedbackEvent]:
    """The events of the sample's sources that match its filters (purged or not). Raises
    :class:`ConcordError` when its creator is gone or no longer leads the sprint or one of the
    sources: the draw runs later, on a worker, and the rights are checked again there."""
    filters = sample.filters
    sources = list(FeedbackSource.objects.filter(slug__in=filters.get("source", [])))
    actor = sample.created_by
    if actor is None or not sprints_led_by(actor).filter(pk=sample.sprint_id).exists():
        raise ConcordError("The lead who asked for this sample no longer leads its sprint.")
    for source in sources:
        if not may_manage_source(actor, source):
            raise ConcordError(f"{actor} no longer leads feedback source {source.slug!r}.")
    events = FeedbackEvent.objects.filter(source__in=sources)
    if "since" in filters:
        events = events.filter(occurred_at__gte=filters["since"])
    if "until" in filters:
        events = events.filter(occurred_at__lt=filters["until"])
    if "model_version" in filters:
        events = events.filter(model_version__in=filters["model_version"])
    if "stratum" in filters:
        events = events.filter(stratum__in=filters["stratum"])
    signals = filters.get("signals", {})
    if "thumb" in signals:
        events = events.filter(thumb=THUMBS[signals["thumb"]])
    if "stars_at_most" in signals:
        events = events.filter(stars__lte=signals["stars_at_most"])
    for name in ("outcome", "reasked", "escalated"):
        if name in signals:
            events = events.filter(**{name: signals[name]})
    return events


def draw_sample(sample: FeedbackSample, progress: Callable[[int], None]) -> Draw:
    """Choose the sample's items without writing any (see the module docstring)."""
    draw = Draw()
    events = matching_events(sample)
    draw.skipped["purged"] = events.filter(text_purged_at__isnull=False).count()
    live = events.filter(text_purged_at__isnull=True)
    draw.skipped["single_response"] = live.filter(response_count__lt=2).count()
    linked = SampledItem.objects.filter(item__sprint_id=sample.sprint_id).values("event_id")
    multi = live.filter(response_count__gte=2)
    draw.skipped["already_in_sprint"] = multi.filter(pk__in=linked).count()
    by_stratum: dict[str, list[int]] = defaultdict(list)
    strata_field = sample.strata.get("field", "stratum")
    candidates = multi.exclude(pk__in=linked).values_list("pk", strata_field)
    for pk, value in candidates.iterator(chunk_size=5000):
        by_stratum[value or ""].append(pk)
    weights = sample.strata.get("weights") or equal_weights(sorted(by_stratum))
    draw.outside_strata = sum(len(ids) for s, ids in by_stratum.items() if s not in weights)
    targets = largest_remainder(sample.n, weights)
    draw.per_stratum = {
        stratum: {"target": target, "drawn": 0, "available": len(by_stratum.get(stratum, []))}
        for stratum, target in sorted(targets.items())
    }
    drawer = _StratumDrawer(sample, draw, progress)
    wanted = dict(targets)
    order = {s: iter(draw_order(sample.seed, s, by_stratum.get(s, []))) for s in sorted(targets)}
    while True:
        for stratum, ids in order.items():
            drawer.fill(stratum, ids, wanted[stratum])
        short = sample.n - len(draw.chosen)
        still_open = {s: weights[s] for s in order if s not in drawer.spent}
        if not sample.strata.get("redistribute") or short <= 0 or not still_open:
            return draw
        for stratum, extra in largest_remainder(short, still_open).items():
            wanted[stratum] += extra


class _StratumDrawer:
    """Draws one stratum's events in their seeded order, reading texts a batch at a time."""

    def __init__(self, sample: FeedbackSample, draw: Draw, progress: Callable[[int], None]):
        self.sample, self.draw, self.progress = sample, draw, progress
        self.spent: set[str] = set()
        self.seen: dict[str, SampledContent] = {}

    def fill(self, stratum: str, ids, wanted: int) -> None:
        counts = self.draw.per_stratum[stratum]
        while counts["drawn"] < wanted:
            # Never more events than items still wanted: each gives at most one item.
            batch = list(islice(ids, min(BATCH, wanted - counts["drawn"])))
            if not batch:
                self.spent.add(stratum)
                return
            loaded = FeedbackEvent.objects.select_related("source").only(*EVENT_FIELDS)
            by_pk = {event.pk: event for event in loaded.filter(pk__in=batch)}
            # An event erased since the candidates were read is simply gone.
            outcomes = [sampled_content(by_pk[pk]) for pk in batch if pk in by_pk]
            in_sprint = set(
                Item.objects.filter(
                    sprint_id=self.sample.sprint_id,
                    external_id__in=[o.external_id for o in outcomes if not isinstance(o, str)],
                ).values_list("external_id", flat=True)
            )
            for outcome in outcomes:
                self._take(outcome, stratum, in_sprint)
            self.progress(len(self.draw.chosen))

    def _take(self, outcome: SampledContent | str, stratum: str, in_sprint: set[str]) -> None:
        if isinstance(outcome, str):
            self.draw.skipped[outcome] += 1
        elif outcome.external_id in self.seen:
            self.seen[outcome.external_id].events.extend(outcome.events)
            self.draw.skipped["duplicate_content"] += 1
        elif outcome.external_id in in_sprint:
            self.draw.skipped["already_in_sprint"] += 1
        else:
            self.seen[outcome.external_id] = outcome
            self.draw.chosen.append((outcome, stratum))
            self.draw.per_stratum[stratum]["drawn"] += 1
