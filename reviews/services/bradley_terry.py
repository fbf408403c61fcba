"""Bradley-Terry ratings of models from pairwise battles, with bootstrap intervals (no Django).

A *battle* is one comparison of two models on one item (the resampling unit): the first won,
the second won, or a tie. The model: P(i beats j) = 1 / (1 + exp(-(b_i - b_j))). Ties count half
a win for each side (as LMSYS's Chatbot Arena counts them), so everything the fit needs is the
win matrix ``W`` (``W[i, j]``: wins of i over j, ties adding a half to both cells); the battles
between i and j are ``W[i, j] + W[j, i]``.

The fit maximises the log-likelihood ``sum W[i, j] log sigma(b_i - b_j)`` plus a Gaussian
prior ``-(prior / 2) * sum b_i**2`` (default ``PRIOR = 0.25``: the information of one battle at
even odds, p (1 - p) = 1/4, as if each model had one extra tie against an average model; a
prior standard deviation of 2 logits, about 350 Elo points). The prior is there for the cases
the plain maximum-likelihood estimate cannot handle: a model that won every battle (its
estimate diverges to infinity; with the prior it is finite and very uncertain), a comparison
graph in parts that never met (their relative level is not identified; the prior centres each
part), and a model seen in one or two items: with the earlier weight of a hundredth of a battle
a 2-0 record rated about +400 (a gap of 800 points, 100:1 odds, from two wins), which no one
would believe; with 0.25 it rates about +170 and its interval says how little that means. With
a few hundred battles a model, its pull is a fraction of a per cent of a rating difference
(the FastChat agreement test holds the ratings to logistic regression within half a point).

Because a common shift of a connected part leaves the likelihood unchanged, at the optimum the
logits of every connected part sum to zero: ratings are *anchored at a mean of*
``BASE_RATING`` (1000) *within each connected part*, and only differences within a part
mean anything.

Ratings are on the Elo scale: ``BASE_RATING + ELO_PER_LOGIT * b`` with ``ELO_PER_LOGIT = 400 /
ln 10``, so a 400-point gap means 10:1 odds. The fit is Newton's method with a backtracking line
search on the (strictly concave) penalised log-likelihood, a few iterations of an M x M solve.

Bootstrap: each round draws as many units (items) as there are, with replacement, and refits
on the battles of the drawn units; the bootstrap 95 % interval is the 2.5th and 97.5th
percentile of the rounds' ratings. The percentile bootstrap collapses where a model has little
data: a model seen in one item is in every round either absent or with the same record, so its
rounds barely vary and its interval is narrowest where it should be widest (a 2-0 record read
1491-1607 while a model with 16 battles read 676-1372; four battles in one item, 1000-1000).
So the reported interval is the *union* of the bootstrap interval and a Wald interval, rating
plus or minus 1.96 standard errors from the fit's observed information (the Hessian of the
penalised log-likelihood at the optimum, inverted, then centred within each connected part,
since ratings are anchored at the part's mean: the covariance of the centred ratings, see
:func:`wald_standard_errors`). The Wald width grows as the data shrink, so little data always
means a wide interval; with plenty of data the two intervals nearly agree (both are 95 %
intervals for the same estimate), the union is barely wider than either, and the coverage test
still finds it near nominal (not above 99 %).

Battles are aggregated per (unit, ordered pair) once, and units that add the
same to the same cells are grouped into *patterns* (:class:`UnitPatterns`); a round draws
counts per pattern and is one ``bincount`` of the patterns' cells, so its cost follows the
distinct patterns (about a thousand for 10 models and 5 judgments an item), never a Python loop
over battles. A model absent from a round's draw has no rating in that round; its
interval comes from the rounds where it appears.
"""

import math
from dataclasses import dataclass

import numpy as np

ELO_PER_LOGIT = 400.0 / math.log(10.0)
BASE_RATING = 1000.0
PRIOR = 0.25
WALD_Z = 1.959964  # the 97.5th percentile of the standard normal
MAX_ITERATIONS = 100
TOLERANCE = 1e-10


@dataclass(frozen=True)
class Battles:
    """Battles as parallel arrays: ``unit`` (the resampling unit, e.g. the item id), ``first``
    and ``second`` (model indices, never equal), ``outcome`` (1.0 first won, 0.0 second won,
    0.5 tie)."""

    unit: np.ndarray
    first: np.ndarray
    second: np.ndarray
    outcome: np.ndarray

    def __len__(self) -> int:
        return len(self.unit)

    @classmethod
    def concatenate(cls, parts: list["Battles"]) -> "Battles":
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls._fields()))

    @classmethod
    def empty(cls) -> "Battles":
        ints = np.zeros(0, np.int64)
        return cls(ints, ints, ints, np.zeros(0, np.float64))

    @staticmethod
    def _fields() -> tuple[str, ...]:
        return ("unit", "first", "second", "outcome")


@dataclass(frozen=True)
class RatingFit:
    """The fit of ``n`` models: ``ratings`` (Elo scale), ``lower``/``upper`` (95 % interval, the
    union of the bootstrap and the Wald interval; NaN without bootstrap or without battles),
    ``standard_error`` (Wald, Elo points, of the centred rating; NaN without battles),
    ``wins`` (the win matrix, ties counted half), ``battles`` (battles per pair, symmetric),
    ``comparisons`` (battles per model), ``component`` (index of the connected part of the
    comparison graph each model is in)."""

    ratings: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    wins: np.ndarray
    battles: np.ndarray
    comparisons: np.ndarray
    component: np.ndarray
    units: int
    standard_error: np.ndarray


def win_matrix(battles: Battles, n_models: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``W[i, j]``: (weighted) wins of i over j, a tie adding half to both cells."""
    cells, values = _cells(battles, n_models)
    if weights is not None:
        values = values * np.concatenate([weights, weights])
    return np.bincount(cells, values, minlength=n_models * n_models).reshape(n_models, n_models)


def _cells(battles: Battles, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    """Each battle as two weighted cells of the win matrix: (first, second) weighted by its
    outcome and (second, first) by one minus it (a zero weight where nobody won that way)."""
    forward = battles.first * n_models + battles.second
    backward = battles.second * n_models + battles.first
    return np.concatenate([forward, backward]), np.concatenate(
        [battles.outcome, 1.0 - battles.outcome]
    )


def fit_logits(wins: np.ndarray, prior: float = PRIOR) -> np.ndarray:
    """The logits maximising the penalised Bradley-Terry log-likelihood of ``wins``. Strictly
    concave for ``prior > 0``, so the optimum is unique; each connected part of the comparison
    graph sums to zero there, and a model without battles sits at zero."""
    n = wins.shape[0]
    games = wins + wins.T
    logits = np.zeros(n)
    if n == 0:
        return logits
    objective = _penalised_likelihood(logits, wins, prior)
    for _ in range(MAX_ITERATIONS):
        p = _sigmoid(logits[:, None] - logits[None, :])
        gradient = (wins - games * p).sum(axis=1) - prior * logits
        information = games * p * p.T
        hessian = np.diag(information.sum(axis=1)) - information + prior * np.eye(n)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while True:
            candidate = logits + scale * step
            value = _penalised_likelihood(candidate, wins, prior)
            if value >= objective - 1e-12 or scale < 1e-8:
                break
            scale /= 2
        logits, objective = candidate, value
        if np.max(np.abs(scale * step)) < TOLERANCE:
            break
    return logits


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _penalised_likelihood(logits: np.ndarray, wins: np.ndarray, prior: float) -> float:
    gaps = logits[:, None] - logits[None, :]
    # log sigma(x) = -log(1 + exp(-x)), computed without overflow.
    return float(-(wins * np.logaddexp(0.0, -gaps)).sum() - prior / 2 * (logits @ logits))


def to_ratings(logits: np.ndarray) -> np.ndarray:
    """Logits on the Elo scale, anchored at ``BASE_RATING``."""
    return BASE_RATING + ELO_PER_LOGIT * logits


def wald_standard_errors(
    logits: np.ndarray, wins: np.ndarray, component: np.ndarray, prior: float = PRIOR
) -> np.ndarray:
    """Standard errors (Elo points) of the ratings at the optimum ``logits``, from the observed
    information: ``H``, the negative Hessian of the penalised log-likelihood (the weighted
    Laplacian of the comparison graph, ``games * p * (1 - p)``, plus ``prior`` on the
    diagonal), inverted, is the covariance of the logits. Ratings are anchored at the mean of
    their connected part, so the covariance reported is that of the centred logits, ``C H^-1
    C`` with ``C`` centring each part (this drops the part's common shift, which the data do
    not identify and the prior alone would set). NaN for a model without battles."""
    n = len(logits)
    games = wins + wins.T
    if n == 0:
        return np.zeros(0)
    p = _sigmoid(logits[:, None] - logits[None, :])
    information = games * p * p.T
    hessian = np.diag(information.sum(axis=1)) - information + prior * np.eye(n)
    same_part = (component[:, None] == component[None, :]).astype(np.float64)
    centring = np.eye(n) - same_part / same_part.sum(axis=1, keepdims=True)
    covariance = centring @ np.linalg.inv(hessian) @ centring.T
    errors = ELO_PER_LOGIT * np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    errors[games.sum(axis=1) == 0] = np.nan
    return errors


def components(battles_per_pair: np.ndarray) -> np.ndarray:
    """The connected part of the comparison graph each model is in, numbered from 0 in the
    order of each part's first model."""
    from scipy.sparse.csgraph import connected_components

    _, labels = connected_components(battles_per_pair > 0, directed=False)
    first_seen = {label: order for order, label in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([first_seen[label] for label in labels.tolist()], dtype=np.int64)


def fit_ratings(
    battles: Battles, n_models: int, *, bootstrap: int = 200, seed: int = 0, prior: float = PRIOR
) -> RatingFit:
    """Bradley-Terry ratings of ``n_models`` from ``battles`` with a 95 % interval: the union
    of the ``bootstrap``-round percentile interval over resampled units (``seed`` fixes the
    draws: the same input gives the same output) and the Wald interval (see the module's
    docstring: the guard that keeps little data from looking precise). ``bootstrap=0`` leaves
    the interval NaN; a model with battles but absent from every round gets the Wald interval
    alone."""
    wins = win_matrix(battles, n_models)
    games = wins + wins.T
    logits = fit_logits(wins, prior)
    ratings = to_ratings(logits)
    component = components(games)
    errors = wald_standard_errors(logits, wins, component, prior)
    lower = np.full(n_models, np.nan)
    upper = np.full(n_models, np.nan)
    units = len(np.unique(battles.unit))
    if bootstrap > 0 and units:
        rounds = bootstrap_ratings(
            unit_patterns(battles, n_models), n_models, bootstrap, seed, prior
        )
        with np.errstate(all="ignore"):
            present = ~np.isnan(rounds).all(axis=0)
        if present.any():
            low, high = np.nanpercentile(rounds[:, present], [2.5, 97.5], axis=0)
            lower[present], upper[present] = low, high
        with np.errstate(invalid="ignore"):
            lower = np.fmin(lower, ratings - WALD_Z * errors)
            upper = np.fmax(upper, ratings + WALD_Z * errors)
    return RatingFit(
        ratings=ratings,
        lower=lower,
        upper=upper,
        wins=wins,
        battles=np.rint(games).astype(np.int64),
        comparisons=np.rint(games.sum(axis=1)).astype(np.int64),
        component=component,
        units=units,
        standard_error=errors,
    )


def _unit_cells(battles: Battles, n_models: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Battles aggregated per (unit, win-matrix cell), sorted by unit then cell: the unit's
    index (0..units-1, in the order of their ids), the cell and the summed weight (> 0)."""
    cells, values = _cells(battles, n_models)
    _, unit_index = np.unique(battles.unit, return_inverse=True)
    units = np.concatenate([unit_index, unit_index]).astype(np.int64)
    keep = values > 0
    codes = units[keep] * (n_models * n_models) + cells[keep]
    distinct, inverse = np.unique(codes, return_inverse=True)
    summed = np.bincount(inverse, values[keep], minlength=len(distinct))
    return distinct // (n_models * n_models), distinct % (n_models * n_models), summed


@dataclass(frozen=True)
class UnitPatterns:
    """The units grouped by what they add to the win matrix: ``units`` in all, ``sizes`` (units
    per pattern), ``of_unit`` (each unit's pattern) and the patterns' entries (``pattern``,
    ``cell``, ``value``). Units that add the same amounts to the same cells (the many items
    whose five judgments between the same two models came out alike) share one pattern, so a
    bootstrap round costs the number of patterns, not of units."""

    units: int
    sizes: np.ndarray
    of_unit: np.ndarray
    pattern: np.ndarray
    cell: np.ndarray
    value: np.ndarray


def unit_patterns(battles: Battles, n_models: int) -> UnitPatterns:
    """The units of ``battles`` grouped into patterns. Units are matched by a 64-bit hash of
    their (cell, value) entries, then checked entry by entry against their pattern's first
    unit; should any differ (a hash collision), every unit is its own pattern: the grouping is
    exact either way."""
    unit_index, cells, values = _unit_cells(battles, n_models)
    units = int(unit_index[-1]) + 1 if len(unit_index) else 0
    starts = np.searchsorted(unit_index, np.arange(units))
    lengths = np.diff(np.r_[starts, len(unit_index)])
    with np.errstate(over="ignore"):
        mixed = _mix(_mix(cells.astype(np.uint64)) ^ values.view(np.uint64))
        signature = _mix(np.add.reduceat(mixed, starts) ^ lengths.astype(np.uint64))
    _, first, of_unit, sizes = np.unique(
        signature, return_index=True, return_inverse=True, return_counts=True
    )
    twin = first[of_unit]
    exact = bool((lengths[twin] == lengths).all())
    if exact:
        mirror = starts[twin][unit_index] + np.arange(len(unit_index)) - starts[unit_index]
        exact = bool((cells[mirror] == cells).all() and (values[mirror] == values).all())
    if not exact:
        first, of_unit, sizes = np.arange(units), np.arange(units), np.ones(units, np.int64)
    leading = np.zeros(units, bool)
    leading[first] = True
    kept = leading[unit_index]
    return UnitPatterns(units, sizes, of_unit, of_unit[unit_index[kept]], cells[kept], values[kept])


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a 64-bit integer hash, elementwise (wrapping arithmetic)."""
    values = values + np.uint64(0x9E3779B97F4A7C15)
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def bootstrap_ratings(
    patterns: UnitPatterns, n_models: int, rounds: int, seed: int, prior: float = PRIOR
) -> np.ndarray:
    """``rounds`` x ``n_models`` ratings, one row per resample of the units (NaN for a model
    with no battle in that resample). A round draws ``units`` units with replacement: as
    counts per pattern, which is the same draw when units share patterns (a multinomial over
    the patterns, when there are at most an eighth as many patterns as units; else units drawn
    one by one and counted per pattern)."""
    generator = np.random.default_rng(seed)
    out = np.empty((rounds, n_models))
    units, sizes = patterns.units, patterns.sizes
    few = len(sizes) * 8 <= units
    shares = sizes / units
    for round_number in range(rounds):
        if few:
            drawn = generator.multinomial(units, shares)
        else:
            drawn = np.bincount(
                patterns.of_unit[generator.integers(0, units, units)], minlength=len(sizes)
            )
        wins = np.bincount(
            patterns.cell,
            patterns.value * drawn[patterns.pattern],
            minlength=n_models * n_models,
        ).reshape(n_models, n_models)
        ratings = to_ratings(fit_logits(wins, prior))
        ratings[(wins + wins.T).sum(axis=1) == 0] = np.nan
        out[round_number] = ratings
    return out
