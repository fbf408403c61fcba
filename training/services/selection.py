"""Active selection: build the next sprint from unlabeled items, those the production reward
model is least sure about first, plus a random share so the labels stay an unbiased sample.

The pool is a sprint's items that nobody has judged yet (a sprint imported only to serve as a
pool works the same way), leaving out gold items and items already selected from it into
another sprint (each copy remembers its origin in ``metadata["selected_from"]``). The model
scores every response of every pool item; an item's uncertainty is the margin between its two
best scores, smallest first. Of ``size`` items, ``round(size * random_share)`` are drawn at
random (seeded) from the rest of the pool, the others are the smallest margins. A pool larger
than ``CONCORD_SELECTION_MAX_POOL`` (default 10,000) is first sampled down, seeded. Scoring
takes minutes for a large pool, so the API and the admin run it as a background job
(:mod:`training.services.selection_jobs`); :func:`select_next_sprint` runs it in the caller's
process (the management command).

The new sprint is a draft that copies the source's rubric, overlap k, gold rate, agreement
threshold, lease and members (the same team labels the next batch), the selected items with
their responses, and the source's gold items with their answers so the gold rate keeps
working. Items are copied, not moved: the source keeps its history.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from annotation.models import GoldAnswer, Item, Response, Sprint, SprintMember
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from training.models import ModelVersion
from training.services.scoring import score_items

# ``on_progress(scored, total)``: items scored so far out of the pool.
Progress = Callable[[int, int], None]
NO_POOL = "No unlabeled items to select."


class SelectionRejected(ConcordError):
    """Bad selection parameters; ``problems`` (alias ``errors``) lists ``{"field", "message"}``."""


@dataclass
class ScoredItem:
    item: Item
    margin: float


@dataclass
class SelectionResult:
    sprint: Sprint
    uncertain: list[ScoredItem] = field(default_factory=list)
    random: list[ScoredItem] = field(default_factory=list)
    gold_copied: int = 0


def unlabeled_pool(source: Sprint) -> list[Item]:
    """The source's items with no judgment at all, not gold, with two or more responses, and
    not selected from this sprint before; in id order."""
    # Copies keep the source's rubric, which narrows the search to a few sprints.
    already = Item.objects.filter(
        sprint__rubric=source.rubric_id, metadata__selected_from__sprint=source.pk
    ).values_list("metadata__selected_from__item", flat=True)
    taken = {int(pk) for pk in already if pk is not None}
    items = (
        Item.objects.filter(sprint=source, is_gold=False, judgments__isnull=True)
        .prefetch_related("responses")
        .order_by("pk")
        .distinct()
    )
    return [item for item in items if item.pk not in taken and len(item.responses.all()) >= 2]


def score_margins(
    model: ModelVersion, items: list[Item], on_progress: Progress | None = None
) -> list[ScoredItem]:
    """Each item with the margin between its two best-scored responses, scored for serving
    (a production model) by :func:`~training.services.scoring.score_items`, the one scoring
    path: prompt, context documents and responses rendered as the model's training rows were,
    ``CONCORD_SCORE_MAX_ITEMS`` items per batched pass. ``on_progress(scored, total)`` is
    called after each pass."""
    scored: list[ScoredItem] = []
    step = settings.CONCORD_SCORE_MAX_ITEMS
    for start in range(0, len(items), step):
        chunk = items[start : start + step]
        questions = [
            {"prompt": item.prompt, "context": item.context,
             "responses": [r.text for r in item.responses.all()]}
            for item in chunk
        ]  # fmt: skip
        for item, scores in zip(chunk, score_items(model, questions), strict=True):
            best = sorted(scores, reverse=True)
            scored.append(ScoredItem(item, best[0] - best[1]))
        if on_progress is not None:
            on_progress(len(scored), len(items))
    return scored


def choose(
    scored: list[ScoredItem], *, size: int, random_share: float, seed: int
) -> tuple[list[ScoredItem], list[ScoredItem]]:
    """The uncertain part (smallest margins, ties by item id) and the random part (a seeded
    sample of the rest). Pure, so the rule can be tested without a model."""
    size = min(size, len(scored))
    random_count = round(size * random_share)
    by_margin = sorted(scored, key=lambda s: (s.margin, s.item.pk))
    uncertain = by_margin[: size - random_count]
    rest = sorted(by_margin[size - random_count :], key=lambda s: s.item.pk)
    picked = random.Random(seed).sample(rest, random_count)
    return uncertain, sorted(picked, key=lambda s: s.item.pk)


def check_request(source: Sprint, size: int, random_share: float, slug: str) -> None:
    """Raise :class:`SelectionRejected` for bad parameters, a taken slug or an empty pool."""
    errors = _check(source, size, random_share, slug)
    if errors:
        raise SelectionRejected(errors)
    if not Item.objects.filter(sprint=source, is_gold=False, judgments__isnull=True).exists():
        raise SelectionRejected([{"field": "sprint", "message": NO_POOL}])


def _check(source: Sprint, size: int, random_share: float, slug: str) -> list[dict[str, str]]:
    errors = []
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100_000:
        errors.append({"field": "size", "message": "Must be an integer from 1 to 100000."})
    if not isinstance(random_share, int | float) or not 0.0 <= random_share <= 1.0:
        errors.append({"field": "random_share", "message": "Must be a number from 0 to 1."})
    if Sprint.objects.filter(slug=slug).exists():
        errors.append({"field": "slug", "message": f"A sprint with slug {slug!r} exists."})
    return errors


def next_slug(source: Sprint, reserved: frozenset[str] = frozenset()) -> str:
    """The first ``<source>-next-<n>`` (n from 2) no sprint has and not in ``reserved``."""
    number = 2
    while True:
        slug = f"{source.slug}-next-{number}"[:100]
        if slug not in reserved and not Sprint.objects.filter(slug=slug).exists():
            return slug
        number += 1


def select_next_sprint(
    source: Sprint,
    model: ModelVersion,
    *,
    size: int,
    actor: AbstractBaseUser | None,
    random_share: float = 0.2,
    seed: int = 0,
    name: str = "",
    slug: str = "",
    on_progress: Progress | None = None,
) -> SelectionResult:
    """Create the next sprint from ``source``'s unlabeled pool, in the caller's process, as the
    module docstring says. Raises :class:`SelectionRejected` (nothing created) for bad
    parameters or an empty pool, and :class:`~training.services.scoring.NotInProduction` for a
    model not in production. The sprint, members and items are written in one transaction,
    after scoring."""
    slug = slug or next_slug(source)
    check_request(source, size, random_share, slug)
    uncertain, randomly = score_pool(
        source, model, size=size, random_share=random_share, seed=seed, on_progress=on_progress
    )
    return create_next_sprint(
        source, model, uncertain, randomly,
        size=size, random_share=random_share, seed=seed, name=name, slug=slug, actor=actor,
    )  # fmt: skip


def score_pool(
    source: Sprint,
    model: ModelVersion,
    *,
    size: int,
    random_share: float,
    seed: int,
    on_progress: Progress | None = None,
) -> tuple[list[ScoredItem], list[ScoredItem]]:
    """Score the (sampled) pool and choose: the uncertain part and the random part. Raises
    :class:`SelectionRejected` for an empty pool, ``NotInProduction`` for a model that is not
    in production. Writes nothing."""
    pool = unlabeled_pool(source)
    if not pool:
        raise SelectionRejected([{"field": "sprint", "message": NO_POOL}])
    limit = settings.CONCORD_SELECTION_MAX_POOL
    if len(pool) > limit:
        pool = sorted(random.Random(seed).sample(pool, limit), key=lambda item: item.pk)
    return choose(
        score_margins(model, pool, on_progress),
        size=size,
        random_share=float(random_share),
        seed=seed,
    )


def create_next_sprint(
    source: Sprint,
    model: ModelVersion,
    uncertain: list[ScoredItem],
    randomly: list[ScoredItem],
    *,
    size: int,
    random_share: float,
    seed: int,
    name: str,
    slug: str,
    actor: AbstractBaseUser | None,
) -> SelectionResult:
    """Write the next sprint, its members, the chosen items and the source's gold, and the
    audit event, in one transaction (nested in the caller's, if any)."""
    with transaction.atomic():
        sprint = Sprint.objects.create(
            name=(name or f"{source.name} (next)")[:200],
            slug=slug,
            description=(
                f"Selected from {source.name} by {model.name} v{model.version}: "
                f"{len(uncertain)} least certain and {len(randomly)} random items (seed {seed})."
            ),
            rubric=source.rubric,
            overlap_k=source.overlap_k,
            gold_rate=source.gold_rate,
            agreement_threshold=source.agreement_threshold,
            lease_minutes=source.lease_minutes,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        SprintMember.objects.bulk_create(
            SprintMember(sprint=sprint, user_id=m.user_id, role=m.role, pseudonym=m.pseudonym)
            for m in source.memberships.all()
        )
        for part, chosen in (("uncertain", uncertain), ("random", randomly)):
            for scored in chosen:
                _copy_item(scored.item, sprint, {"reason": part, "margin": scored.margin})
        gold = Item.objects.filter(sprint=source, is_gold=True).select_related("gold")
        gold_copied = 0
        for item in gold.prefetch_related("responses"):
            _copy_item(item, sprint, None)
            gold_copied += 1
        record_event(
            actor,
            "sprint.selected_next",
            sprint,
            sprint=sprint,
            changes={
                "source": source.pk,
                "model": model.pk,
                "size": size,
                "random_share": random_share,
                "seed": seed,
                "uncertain": [s.item.pk for s in uncertain],
                "random": [s.item.pk for s in randomly],
            },
        )
    return SelectionResult(sprint, uncertain, randomly, gold_copied)


def _copy_item(item: Item, sprint: Sprint, selection: dict[str, Any] | None) -> Item:
    metadata = dict(item.metadata)
    if selection is not None:
        metadata["selected_from"] = {"sprint": item.sprint_id, "item": item.pk, **selection}
    copy = Item.objects.create(
        sprint=sprint,
        external_id=item.external_id,
        prompt=item.prompt,
        context=item.context,
        metadata=metadata,
        source=item.source,
        stratum=item.stratum,
        is_gold=item.is_gold,
        content_sha256=item.content_sha256,
    )
    Response.objects.bulk_create(
        Response(
            item=copy,
            key=r.key,
            text=r.text,
            model_name=r.model_name,
            model_version=r.model_version,
            metadata=r.metadata,
            position=r.position,
        )
        for r in item.responses.all()
    )
    if item.is_gold and hasattr(item, "gold"):
        GoldAnswer.objects.create(item=copy, answers=item.gold.answers)
    return copy
