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
from dataclasses import dataclass

import numpy as np
import orjson
from django.db.models import TextField
from django.db.models.functions import Cast

from annotation.models import Response, Sprint
from reviews.models import ConsensusLabel
from reviews.services.agreement_rows import read_rows
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


def model_label(name: str, version: str) -> str:
    """How the leaderboard names a model: ``name@version``, or ``name`` with no version."""
    return f"{name}@{version}" if version else name


@dataclass
class ResponseModels:
    """The responses of some sprints and the model of each: ``item`` (id), ``key``,
    ``model`` (index into ``models``, sorted labels; -1 without a model name)."""

    item: np.ndarray
    key: np.ndarray
    model: np.ndarray
    models: list[str]

    @classmethod
    def of(cls, sprint_ids: list[int]) -> "ResponseModels":
        rows = list(
            Response.objects.filter(item__sprint_id__in=sprint_ids)
            .order_by()
            .values_list("item_id", "key", "model_name", "model_version")
            .iterator(chunk_size=20000)
        )
        if not rows:
            return cls(np.zeros(0, np.int64), np.zeros(0, str), np.zeros(0, np.int64), [])
        items, keys, names, versions = zip(*rows, strict=True)
        labels = [model_label(n, v) if n else "" for n, v in zip(names, versions, strict=True)]
        distinct, model = np.unique(np.array(labels, dtype=object), return_inverse=True)
        models = [str(label) for label in distinct]
        if models[0] == "":  # sorted first: the responses without a model name
            models, model = models[1:], model - 1
        return cls(np.array(items, np.int64), np.array(keys), model.astype(np.int64), models)

    @property
    def skipped(self) -> int:
        return int((self.model < 0).sum())

    def by_key(self, items: np.ndarray, keys: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
        """The model of each (item, key) with keys as indices into the sorted ``vocabulary``
        (-1 where no response or no model name)."""
        width = len(vocabulary)
        if not width:
            return np.full(len(items), -1, np.int64)
        code = np.minimum(np.searchsorted(vocabulary, self.key), width - 1)
        known = vocabulary[code] == self.key
        return _lookup(
            self.item[known] * width + code[known], self.model[known], items * width + keys
        )

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


def consensus_entries(sprint_ids: list[int], responses: ResponseModels) -> Entries:
    """The consensus label of each item as a row: its ranking's places, or, for a tie, every
    response of the item."""
    labels = (
        ConsensusLabel.objects.filter(sprint_id__in=sprint_ids)
        .order_by()
        .annotate(ranking_text=Cast("ranking", TextField()))
        .values_list("item_id", "ranking_text", "tie")
        .iterator(chunk_size=20000)
    )
    where = {
        (item, key): model
        for item, key, model in zip(
            responses.item.tolist(), responses.key.tolist(), responses.model.tolist(), strict=True
        )
    }
    keys_of: dict[int, list[str]] = {}
    for item, key in zip(responses.item.tolist(), responses.key.tolist(), strict=True):
        keys_of.setdefault(item, []).append(key)
    rows, items, models, places, ties = [], [], [], [], []
    for number, (item, text, tie) in enumerate(labels):
        ranking = orjson.loads(text) if text else []
        keys = keys_of.get(item, []) if tie else ranking if isinstance(ranking, list) else []
        for place, key in enumerate(keys):
            rows.append(number)
            items.append(item)
            models.append(where.get((item, key), -1) if isinstance(key, str) else -1)
            places.append(-1 if tie else place)
            ties.append(bool(tie))
    return Entries(
        np.array(rows, np.int64),
        np.array(items, np.int64),
        np.array(models, np.int64),
        np.array(places, np.int64),
        np.array(ties, bool),
    )


def judgment_entries(sprint: Sprint, responses: ResponseModels) -> Entries:
    """The live judgments of ``sprint`` as rows, read as the agreement report reads them."""
    rows, _ = read_rows(sprint)
    items = rows.item[rows.entry_row]
    if rows.item_keys is not None:
        models = responses.by_rank(items, rows.entry_key)
    else:
        models = responses.by_key(items, rows.entry_key, np.array(rows.keys))
    return Entries(rows.entry_row, items, models, rows.entry_place, rows.tie[rows.entry_row])


def sprint_battles(sprints: list[Sprint], source: str) -> tuple[Battles, list[str], dict]:
    """The battles of ``sprints`` from ``source`` ("consensus" or "judgments"), the model
    labels their indices refer to, and what was skipped."""
    ids = [sprint.pk for sprint in sprints]
    responses = ResponseModels.of(ids)
    if source == "consensus":
        battles, same_model = battles_of(consensus_entries(ids, responses))
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
    """The leaderboard of ``sprints`` (already authorised by the caller): models best first
    with rating, 95 % interval (``[None, None]`` when ``bootstrap`` is 0 or a model never
    appears in a resample), comparisons and wins/losses/ties, the win-rate matrix with counts,
    and what was skipped. Read-only; deterministic for a given ``seed``; a model appears only
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


def _report(fit: RatingFit, names: list[str], battles: Battles, skipped: dict) -> dict:
    order = np.argsort(-fit.ratings, kind="stable")
    ties = np.bincount(
        np.concatenate([battles.first, battles.second])[np.tile(battles.outcome == 0.5, 2)],
        minlength=len(names),
    )
    wins_with_halves = fit.wins.sum(axis=1)
    models = []
    for rank, index in enumerate(order.tolist(), start=1):
        low, high = fit.lower[index], fit.upper[index]
        won = round(float(wins_with_halves[index]) - int(ties[index]) / 2)
        models.append(
            {
                "rank": rank,
                "model": names[index],
                "rating": round(float(fit.ratings[index]), 2),
                "ci": [None, None]
                if np.isnan(low)
                else [round(float(low), 2), round(float(high), 2)],
                "comparisons": int(fit.comparisons[index]),
                "wins": won,
                "ties": int(ties[index]),
                "losses": int(fit.comparisons[index]) - won - int(ties[index]),
                "component": int(fit.component[index]),
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
