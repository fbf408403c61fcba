"""The bootstrap's replicate formula and the rubric's ``level`` option."""

import krippendorff
import numpy as np
import pytest

from annotation.services.rubrics import validate_criterion_config
from reviews.services.agreement_alpha import (
    LEVELS,
    criterion_alpha,
    dense_codes,
    pairable_counts,
    pattern_alphas,
    unit_value_counts,
)


def random_counts(seed: int, units: int = 300, coders: int = 5, values: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, values, units)
    answers = np.where(
        rng.random((coders, units)) < 0.7, truth, rng.integers(0, values, (coders, units))
    )
    answered = rng.random((coders, units)) < 0.85
    unit_ids = np.broadcast_to(np.arange(units), (coders, units))[answered]
    return unit_value_counts(unit_ids, answers[answered], values)


@pytest.mark.parametrize("level", LEVELS)
def test_replicate_formula_at_observed_weights_is_krippendorff(level):
    counts = random_counts(1)
    domain = np.arange(1, 6)
    patterns, weights = np.unique(counts, axis=0, return_counts=True)
    expected = krippendorff.alpha(
        value_counts=counts, value_domain=domain, level_of_measurement=level
    )
    assert pattern_alphas(patterns, weights, domain, level)[0] == pytest.approx(expected, abs=1e-12)
    # Doubling every unit changes alpha only through n - 1 in the expected disagreement.
    doubled = krippendorff.alpha(
        value_counts=np.repeat(counts, 2, axis=0), value_domain=domain, level_of_measurement=level
    )
    assert pattern_alphas(patterns, 2 * weights, domain, level)[0] == pytest.approx(doubled)


def test_interval_is_seeded_and_brackets_the_estimate():
    counts = random_counts(2)
    domain = np.arange(1, 6)
    first = criterion_alpha(counts, domain, "ordinal", bootstrap=500, rng=np.random.default_rng(5))
    again = criterion_alpha(counts, domain, "ordinal", bootstrap=500, rng=np.random.default_rng(5))
    assert first.ci == again.ci
    assert first.ci[0] < first.alpha < first.ci[1]
    assert first.ci[1] - first.ci[0] < 0.2


def test_the_interval_does_not_depend_on_the_order_answers_arrive_in():
    # A parallel query returns a sprint's judgments in no fixed order; the same answers must
    # give the same report, interval included.
    rng = np.random.default_rng(3)
    units = np.repeat(np.arange(200), 4)
    values = np.where(rng.random(800) < 0.8, units % 3, rng.integers(0, 3, 800))
    order = rng.permutation(800)
    domain = np.arange(3)
    figures = [
        criterion_alpha(
            unit_value_counts(u, v, 3),
            domain,
            "nominal",
            bootstrap=200,
            rng=np.random.default_rng(7),
        )
        for u, v in [(units, values), (units[order], values[order])]
    ]
    assert figures[0] == figures[1]


def test_units_with_one_value_are_not_pairable():
    counts = unit_value_counts(np.array([0, 0, 1, 2, 2, 2]), np.array([1, 1, 0, 0, 1, 1]), 2)
    assert counts.tolist() == [[0, 2], [1, 2]]


@pytest.mark.parametrize("spread", [1, 10**12], ids=["table", "sorted"])
def test_dense_codes_rank_values_as_a_sort_does(spread):
    # Close values are ranked through a table over their span, far-apart ones by sorting:
    # both give each value its rank among the distinct values.
    rng = np.random.default_rng(4)
    values = rng.integers(0, 50, 400) * spread + 7
    codes, count = dense_codes(values)
    distinct, expected = np.unique(values, return_inverse=True)
    assert count == len(distinct)
    assert codes.tolist() == expected.tolist()


def test_pairable_counts_mask_the_answers_of_units_answered_twice():
    pairable, counts = pairable_counts(
        np.array([9, 3, 9, 5, 3, 3]), np.array([1, 0, 1, 1, 1, 0]), 2
    )
    assert pairable.tolist() == [True, True, True, False, True, True]
    assert counts.tolist() == [[2, 1], [0, 2]]


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_likert_accepts_a_level(level):
    assert validate_criterion_config("likert", {"min": 1, "max": 5, "level": level}) == []


def test_likert_rejects_an_unknown_level():
    errors = validate_criterion_config("likert", {"min": 1, "max": 5, "level": "cardinal"})
    assert errors and "level" in errors[0]
