"""The model leaderboard: which response models humans prefer, from blind judgments.

Every response names the model that wrote it; every item was judged blind, its responses in a
shuffled order. So each item is a small tournament: every pair of its responses by *different*
models is a *battle*, which the response ranked higher wins, and a tie (an item whose answer is
a tie) is a tie between every pair of its responses. The battles of one or more sprints give
Bradley-Terry ratings with bootstrap intervals over resampled items
(:mod:`reviews.services.bradley_terry`, which documents the fit, the prior and the anchoring),
the pairwise win-rate matrix and each model's number of comparisons.

Sources: ``consensus`` (default) takes each item's consensus label, one vote per item;
``judgments`` takes every live judgment, one vote per annotator (read by
:func:`reviews.services.agreement_rows.read_rows`, the agreement report's reader). With either,
the resampling unit is the item, so the judgments of one item move together.

A model is named ``model_name``, or ``model_name@model_version`` when the version is set.
Responses without a model name take part in no battle and are counted as skipped, and so are
pairs of responses by the same model (in neither case is there a comparison of models).
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import orjson
import pyarrow as pa
from django.db.models import Case, CharField, F, TextField, Value, When
from django.db.models.functions import Cast, Concat

from annotation.models import Response, Sprint
from reviews.models import ConsensusLabel
from reviews.services.agreement_rows import key_codes, read_rows
from reviews.services.agreement_sql import Statement, snapshot
from reviews.services.bradley_terry import (
    BASE_RATING,
    ELO_PER_LOGIT,
    PRIOR,
    Battles,
    RatingFit,
    fit_ratings,
)

SOURCES = ("consensus", "judgments")
DEFAULT_BOOTSTRAP = 200


@dataclass
class ResponseModels:
    """The responses of some sprints and the model of each: ``item`` (id), ``key`` (index into
    ``keys``, the distinct keys in code point order), ``model`` (index into ``models``, the
    distinct labels sorted; -1 without a model name)."""

    item: np.ndarray
    key: np.ndarray
    model: np.ndarray
    keys: list[str]
    models: list[str]

    @classmethod
    def read(cls, sprint_ids: list[int], read: Callable[[Statement], pa.Table]) -> "ResponseModels":
        """One statement through the agreement report's reader (``COPY`` on PostgreSQL);
        each response's model label (``name@version``, or ``name`` with no version; none
        without a name) is made in SQL, and keys and labels come back dictionary-encoded, so
        no Python loop runs per response."""
        query = (
            Response.objects.filter(item__sprint_id__in=sprint_ids)
            .order_by()
            .annotate(
                label=Case(
                    When(model_name="", then=Value(None)),
                    When(model_version="", then=F("model_name")),
                    default=Concat("model_name", Value("@"), "model_version"),
                    output_field=CharField(),
                )
            )
            .values_list("item_id", "key", "label")
        )
        sql, params = query.query.get_compiler(using=query.db).as_sql()
        table = read((sql, list(params), ["item", "key", "model"]))
        keys, (key,) = key_codes([table.column("key")])
        models, (model,) = key_codes([table.column("model")])
        item = table.column("item").to_numpy().astype(np.int64, copy=False)
        return cls(item, key, model, keys, models)

    @property
    def skipped(self) -> int:
        return int((self.model < 0).sum())

    def key_codes(self, keys: list[str]) -> np.ndarray:
        """Each of ``keys`` as an index into ``self.keys`` (-1 where no response has it)."""
        where = {key: code for code, key in enumerate(self.keys)}
        return np.array([where.get(key, -1) for key in keys] + [-1], np.int64)[:-1]

    def by_key(self, items: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """The model of each (item, key), keys as indices into ``self.keys`` (-1 where the
        item has no such response, or it has no model name)."""
        width = max(len(self.keys), 1)
        found = _lookup(self.item * width + self.key, self.model, items * width + keys)
        return np.where(keys >= 0, found, -1)

    def by_rank(self, items: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """The model of each (item, rank of the key among the item's keys in code point
        order), as a judgment's agreement record refers to a response."""
        order = np.lexsort((self.key, self.item))
        grouped = self.item[order]
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order)) - np.searchsorted(grouped, grouped)
        width = int(rank.max()) + 1 if len(rank) else 1
        return _lookup(self.item * width + rank, self.model, items * width + ranks)


def _lookup(table_codes: np.ndarray, table_values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``table_values`` at ``wanted`` codes, -1 where a code is not in ``table_codes``."""
    if not len(table_codes):
        return np.full(len(wanted), -1, np.int64)
    order = np.argsort(table_codes)
    sorted_codes = table_codes[order]
    at = np.minimum(np.searchsorted(sorted_codes, wanted), len(order) - 1)
    found = sorted_codes[at] == wanted
    return np.where(found, table_values[order[at]], -1)


@dataclass
class Entries:
    """Responses as one vote (a judgment or a consensus label, the *row*) places them, the
    entries of a row next to each other: ``row``, ``item``, ``model`` (-1: no model),
    ``place`` (0 best; -1 unranked) and ``tie`` (the row is a tie)."""

    row: np.ndarray
    item: np.ndarray
    model: np.ndarray
    place: np.ndarray
    tie: np.ndarray


def battles_of(entries: Entries) -> tuple[Battles, int]:
    """Every battle of the rows (each pair of ranked entries of different models; every pair
    of a tie row's entries, as ties) and how many pairs were left out as the same model's.
    Vectorised per row size: no Python loop over rows or battles."""
    usable = (entries.model >= 0) & (entries.tie | (entries.place >= 0))
    row, item = entries.row[usable], entries.item[usable]
    model, place, tie = entries.model[usable], entries.place[usable], entries.tie[usable]
    order = np.argsort(row, kind="stable")
    row, item, model, place, tie = row[order], item[order], model[order], place[order], tie[order]
    _, starts, sizes = np.unique(row, return_index=True, return_counts=True)
    parts, same_model = [], 0
    for size in np.unique(sizes):
        if size < 2:
            continue
        first_entries = starts[sizes == size]
        for i, j in itertools.combinations(range(int(size)), 2):
            a, b = first_entries + i, first_entries + j
            outcome = np.where(tie[a], 0.5, (place[a] < place[b]).astype(np.float64))
            different = model[a] != model[b]
            same_model += int((~different).sum())
            parts.append(
                Battles(item[a][different], model[a][different], model[b][different],
                        outcome[different])
            )  # fmt: skip
    return Battles.concatenate(parts), same_model


def consensus_entries(
    sprint_ids: list[int], responses: ResponseModels, read: Callable[[Statement], pa.Table]
) -> Entries:
    """The consensus label of each item as a row: its ranking's places, or, for a tie, every
    response of the item. Labels repeat a few rankings, so each distinct ranking text is parsed
    once and spread over its labels with numpy."""
    query = (
        ConsensusLabel.objects.filter(sprint_id__in=sprint_ids)
        .order_by()
        .annotate(ranking_text=Cast("ranking", TextField()))
        .values_list("item_id", "ranking_text", "tie")
    )
    sql, params = query.query.get_compiler(using=query.db).as_sql()
    table = read((sql, list(params), ["item", "ranking", "tie"]))
    item = table.column("item").to_numpy().astype(np.int64, copy=False)
    tie = table.column("tie").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    texts, (ranking,) = key_codes([table.column("ranking")])
    parts = []
    for code, text in enumerate(texts):
        keys = orjson.loads(text)
        keys = keys if isinstance(keys, list) else []
        rows = np.flatnonzero((ranking == code) & ~tie)
        codes = responses.key_codes([key if isinstance(key, str) else "" for key in keys])
        for place, key in enumerate(codes.tolist()):
            models = responses.by_key(item[rows], np.full(len(rows), key, np.int64))
            parts.append((rows, item[rows], models, np.full(len(rows), place), False))
    tied = np.flatnonzero(tie)
    order = np.argsort(item[tied])
    where = np.isin(responses.item, item[tied])
    rows = tied[order][np.searchsorted(item[tied][order], responses.item[where])]
    parts.append(
        (rows, responses.item[where], responses.model[where], np.full(len(rows), -1), True)
    )
    return Entries(
        *(np.concatenate([part[n] for part in parts]).astype(np.int64) for n in range(4)),
        np.concatenate([np.full(len(part[0]), part[4]) for part in parts]).astype(bool),
    )


def judgment_entries(sprint: Sprint, responses: ResponseModels) -> Entries:
    """The live judgments of ``sprint`` as rows, read as the agreement report reads them."""
    rows, _ = read_rows(sprint)
    items = rows.item[rows.entry_row]
    if rows.item_keys is not None:
        models = responses.by_rank(items, rows.entry_key)
    else:
        models = responses.by_key(items, responses.key_codes(rows.keys)[rows.entry_key])
    return Entries(rows.entry_row, items, models, rows.entry_place, rows.tie[rows.entry_row])


def sprint_battles(sprints: list[Sprint], source: str) -> tuple[Battles, list[str], dict]:
    """The battles of ``sprints`` from ``source`` ("consensus" or "judgments"), the model
    labels their indices refer to, and what was skipped. Everything is read in one snapshot
    (REPEATABLE READ on PostgreSQL), so responses and votes agree."""
    ids = [sprint.pk for sprint in sprints]
    with snapshot(Response.objects.db) as read:
        responses = ResponseModels.read(ids, read)
        if source == "consensus":
            battles, same_model = battles_of(consensus_entries(ids, responses, read))
        else:
            parts = [battles_of(judgment_entries(sprint, responses)) for sprint in sprints]
            battles = Battles.concatenate([part for part, _ in parts])
            same_model = sum(count for _, count in parts)
    skipped = {"responses_without_model": responses.skipped, "same_model_pairs": same_model}
    return battles, responses.models, skipped


def leaderboard(
    sprints: list[Sprint],
    *,
    source: str = "consensus",
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> dict:
    """The leaderboard of ``sprints`` (already authorised by the caller): models grouped by
    ``component`` (the connected part of the comparison graph, numbered from 1, largest
    first; see :func:`component_order`) and ranked best first within it, with rating and 95 %
    interval (one decimal, :func:`one_decimal`; ``[None, None]`` when ``bootstrap`` is 0),
    comparisons and wins/losses/ties, the win-rate matrix with counts in the same order, and
    what was skipped. Read-only; deterministic for a given ``seed``; a model appears only
    if it took part in at least one battle."""
    battles, models, skipped = sprint_battles(sprints, source)
    taking_part = np.unique(np.concatenate([battles.first, battles.second]))
    remap = np.full(len(models), -1, np.int64)
    remap[taking_part] = np.arange(len(taking_part))
    names = [models[index] for index in taking_part.tolist()]
    battles = Battles(battles.unit, remap[battles.first], remap[battles.second], battles.outcome)
    fit = fit_ratings(battles, len(names), bootstrap=bootstrap, seed=seed)
    return _report(fit, names, battles, skipped) | {
        "sprints": [sprint.pk for sprint in sprints],
        "source": source,
        "bootstrap": bootstrap,
        "seed": seed,
    }


def one_decimal(value: float) -> float:
    """``value`` rounded to one decimal, half away from zero (on the float's exact value), the
    one rounding of ratings and intervals: the API, the page and the command show the same
    figure (the page and the command print it as it is)."""
    return float(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def component_order(fit: RatingFit, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Models in leaderboard order and each model's component number (1-based). Ratings are
    centred per connected part of the comparison graph and compare only within it, so models
    are ranked within their component; components come largest first, then by their first
    model name, and models within one best first."""
    parts = np.unique(fit.component)
    size = {part: int((fit.component == part).sum()) for part in parts.tolist()}
    first_name = {part: min(n for n, c in zip(names, fit.component, strict=True) if c == part)
                  for part in parts.tolist()}  # fmt: skip
    ordered_parts = sorted(parts.tolist(), key=lambda part: (-size[part], first_name[part]))
    number = np.zeros(len(names), np.int64)
    for position, part in enumerate(ordered_parts, start=1):
        number[fit.component == part] = position
    return np.lexsort((-fit.ratings, number)), number


def _report(fit: RatingFit, names: list[str], battles: Battles, skipped: dict) -> dict:
    order, component = component_order(fit, names)
    ties = np.bincount(
        np.concatenate([battles.first, battles.second])[np.tile(battles.outcome == 0.5, 2)],
        minlength=len(names),
    )
    wins_with_halves = fit.wins.sum(axis=1)
    models, rank, previous = [], 0, None
    for index in order.tolist():
        rank = 1 if component[index] != previous else rank + 1
        previous = component[index]
        low, high = fit.lower[index], fit.upper[index]
        won = round(float(wins_with_halves[index]) - int(ties[index]) / 2)
        models.append(
            {
                "rank": rank,
                "model": names[index],
                "rating": one_decimal(fit.ratings[index]),
                "ci": [None, None] if np.isnan(low) else [one_decimal(low), one_decimal(high)],
                "comparisons": int(fit.comparisons[index]),
                "wins": won,
                "ties": int(ties[index]),
                "losses": int(fit.comparisons[index]) - won - int(ties[index]),
                "component": int(component[index]),
            }
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = fit.wins / fit.battles
    ordered = np.ix_(order, order)
    return {
        "models": models,
        "win_rates": {
            "models": [names[index] for index in order.tolist()],
            "rates": [
                [None if np.isnan(v) else round(float(v), 4) for v in line]
                for line in rates[ordered]
            ],
            "comparisons": fit.battles[ordered].tolist(),
        },
        "items": fit.units,
        "battles": len(battles),
        "connected": bool(len(names) < 2 or fit.component.max() == 0),
        "skipped": skipped,
        "scale": {"base": BASE_RATING, "per_logit": round(ELO_PER_LOGIT, 6), "prior": PRIOR},
    }
