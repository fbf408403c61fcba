"""Krippendorff's alpha for one criterion, with a bootstrap interval and the percent agreement.

The point estimate is :func:`krippendorff.alpha` on the unit-by-value count matrix. The
bootstrap resamples units with replacement; it is fast because units with the same value counts
are interchangeable: the sample is a multinomial draw over the distinct count *patterns* (a few
hundred at most for 5 annotators), so B replicates cost a (B x patterns) draw and two small
matrix products instead of B passes over every unit. Each replicate recomputes the expected
disagreement, and for the ordinal level the distances, from its own marginals, as alpha does.
"""

from dataclasses import dataclass

import krippendorff
import numpy as np
import pandas as pd

LEVELS = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True)
class CriterionAlpha:
    """The agreement figures of one criterion; ``alpha`` is None when it is undefined (no unit
    with two values, or every value the same) and ``ci`` is ``[None, None]`` without bootstrap."""

    alpha: float | None
    ci: list[float | None]
    level: str
    percent_agreement: float | None
    units: int

    def as_dict(self) -> dict:
        return {
            "alpha": self.alpha,
            "ci": self.ci,
            "level": self.level,
            "percent_agreement": self.percent_agreement,
        }


def unit_value_counts(units: np.ndarray, values: np.ndarray, n_values: int) -> np.ndarray:
    """The (units x values) count matrix of pairable units only (two values or more), from
    one code per answer: ``units`` are unit indices, ``values`` indices into the value domain.
    Rows follow the unit indices, not the order the answers came in, which a parallel query
    does not fix."""
    return pairable_counts(units, values, n_values)[1]


def pairable_counts(
    units: np.ndarray, values: np.ndarray, n_values: int
) -> tuple[np.ndarray, np.ndarray]:
    """The mask of the answers whose unit has at least two answers (the pairable ones), and
    the count matrix of those units, rows in ascending unit order: one numbering of the units
    serves both, and a unit of one answer is left out of the matrix."""
    if len(units) == 0:
        return np.zeros(0, dtype=bool), np.zeros((0, n_values), dtype=np.int64)
    codes, count = dense_codes(units)
    sizes = np.bincount(codes, minlength=count)
    counts = np.bincount(codes * n_values + values, minlength=count * n_values)
    pairable = sizes >= 2
    return pairable[codes], counts.reshape(count, n_values)[pairable]


def dense_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Each of ``values`` (integers) as its rank among the distinct values, 0 for the smallest,
    and how many distinct values there are. Where the values span at most a few times their
    count (item ids, units built from them), a table over the span ranks them in linear time;
    otherwise they are sorted (``pd.factorize``)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), 0
    low, high = int(values.min()), int(values.max())
    span = high - low + 1
    if span > 4 * len(values) + 4096:
        codes, distinct = pd.factorize(values, sort=True)
        return codes.astype(np.int64, copy=False), len(distinct)
    offsets = values - low
    seen = np.zeros(span, dtype=bool)
    seen[offsets] = True
    rank = np.cumsum(seen, dtype=np.int64)
    return rank[offsets] - 1, int(rank[-1])


def criterion_alpha(
    counts: np.ndarray,
    domain: np.ndarray,
    level: str,
    *,
    bootstrap: int,
    rng: np.random.Generator,
) -> CriterionAlpha:
    """Alpha, its 95% bootstrap interval and the percent agreement of pairable ``counts``."""
    units = len(counts)
    percent = _percent_agreement(counts)
    observed = counts.sum(axis=0)
    if units == 0 or np.count_nonzero(observed) < 2:
        return CriterionAlpha(None, [None, None], level, percent, units)
    alpha = float(
        krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=level)
    )
    ci: list[float | None] = [None, None]
    if bootstrap > 0:
        patterns, weights = _patterns(counts)
        draws = rng.multinomial(units, weights / units, size=bootstrap)
        replicates = pattern_alphas(patterns, draws, domain, level)
        replicates = replicates[np.isfinite(replicates)]
        if len(replicates):
            low, high = np.percentile(replicates, [2.5, 97.5])
            ci = [float(low), float(high)]
    return CriterionAlpha(alpha, ci, level, percent, units)


def _patterns(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``counts`` and how often each occurs. Rows are packed into one
    integer each (mixed radix) when that fits, which is much faster than a row-wise unique.
    Both ways the patterns come out sorted, so a seeded bootstrap draws the same replicates
    whatever the order of the units."""
    base = int(counts.max()) + 1
    if base ** counts.shape[1] < 2**62:
        packed = counts.astype(np.int64) @ (base ** np.arange(counts.shape[1], dtype=np.int64))
        codes, _ = pd.factorize(packed, sort=True)
        first = np.zeros(codes.max() + 1, dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        return counts[first], np.bincount(codes)
    return np.unique(counts, axis=0, return_counts=True)


def pattern_alphas(
    patterns: np.ndarray, weights: np.ndarray, domain: np.ndarray, level: str
) -> np.ndarray:
    """Alpha of each row of ``weights`` (replicates x patterns): how often each distinct
    count pattern is in that replicate. With the observed pattern counts as the one row this
    is exactly krippendorff.alpha, which the tests check."""
    weights = np.atleast_2d(weights).astype(np.float64)
    patterns = patterns.astype(np.float64)
    pairable = patterns.sum(axis=1)
    # Coincidences each pattern adds: n_c * n_k / (m - 1), with n_c * (n_c - 1) on the diagonal.
    per_pattern = patterns[:, :, None] * patterns[:, None, :]
    diagonal = np.arange(patterns.shape[1])
    per_pattern[:, diagonal, diagonal] -= patterns
    per_pattern /= (pairable - 1)[:, None, None]
    values = patterns.shape[1]
    coincidences = (weights @ per_pattern.reshape(len(patterns), -1)).reshape(-1, values, values)
    marginals = coincidences.sum(axis=2)
    total = marginals.sum(axis=1)
    distances = _distances(domain, marginals, level)
    observed = (coincidences * distances).sum(axis=(1, 2))
    expected_pairs = marginals[:, :, None] * marginals[:, None, :]
    expected = (expected_pairs * distances).sum(axis=(1, 2)) / (total - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - observed / expected


def _distances(domain: np.ndarray, marginals: np.ndarray, level: str) -> np.ndarray:
    """Squared distances between values, per replicate (replicates x V x V); the diagonal is 0,
    so expected disagreement needs no special case for equal values."""
    replicates, values = marginals.shape
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(values), (replicates, values, values))
    if level == "ordinal":
        # The ordinal distance of c < k is (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2, which is the
        # squared gap between the mid-ranks cum_g - n_g / 2 of the two values.
        mid = np.cumsum(marginals, axis=1) - marginals / 2
        return (mid[:, :, None] - mid[:, None, :]) ** 2
    points = domain.astype(np.float64)
    if level == "interval":
        gap = (points[:, None] - points[None, :]) ** 2
    elif level == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = ((points[:, None] - points[None, :]) / (points[:, None] + points[None, :])) ** 2
        gap = np.nan_to_num(gap)
    else:
        raise ValueError(f"unknown level of measurement {level!r}")
    return np.broadcast_to(gap, (replicates, values, values))


def _percent_agreement(counts: np.ndarray) -> float | None:
    """Share of all pairs of values within units that are equal, pooled over units."""
    if len(counts) == 0:
        return None
    counts = counts.astype(np.float64)
    pairable = counts.sum(axis=1)
    agreeing = (counts * (counts - 1)).sum()
    pairs = (pairable * (pairable - 1)).sum()
    return float(agreeing / pairs)
