"""The Bradley-Terry fit against a known truth and against FastChat's published method.

Simulated models with fixed strengths: the order is recovered, and the bootstrap 95 % intervals
(the union of the percentile bootstrap and the Wald interval) cover the true (centred)
strengths at about their nominal rate over many simulated datasets, and a model seen in one
item gets a wide interval, not a tight one.
Against logistic regression on the same battles (the method LMSYS's FastChat publishes for
Chatbot Arena: one row per battle, +1 for the first model and -1 for the second, no intercept,
a tie entered as half a win and half a loss; written here from that description), the ratings
are the same up to a shift. And the cases a plain maximum-likelihood fit cannot handle: a model
that always wins, and a comparison graph in two parts."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from reviews.services import bradley_terry
from reviews.services.bradley_terry import (
    BASE_RATING,
    ELO_PER_LOGIT,
    Battles,
    fit_ratings,
    unit_patterns,
    win_matrix,
)


def simulate(strengths, items: int, seed: int, per_item: int = 1, tie_share: float = 0.0):
    """``items`` items, each with ``per_item`` battles of one random pair of models decided by
    the Bradley-Terry law of ``strengths`` (logits); ``tie_share`` of the battles are ties."""
    rng = np.random.default_rng(seed)
    n = len(strengths)
    first = rng.integers(0, n, items)
    second = (first + rng.integers(1, n, items)) % n
    first, second = np.repeat(first, per_item), np.repeat(second, per_item)
    p = 1 / (1 + np.exp(-(np.asarray(strengths)[first] - np.asarray(strengths)[second])))
    outcome = (rng.random(len(first)) < p).astype(float)
    outcome[rng.random(len(first)) < tie_share] = 0.5
    return Battles(np.repeat(np.arange(items), per_item), first, second, outcome)


def centred_truth(strengths) -> np.ndarray:
    logits = np.asarray(strengths, dtype=float)
    return BASE_RATING + ELO_PER_LOGIT * (logits - logits.mean())


def test_the_order_of_known_strengths_is_recovered():
    strengths = [1.2, 0.6, 0.2, -0.1, -0.5, -1.4]
    fit = fit_ratings(simulate(strengths, 20000, seed=1), 6, bootstrap=50, seed=1)
    assert list(np.argsort(-fit.ratings)) == [0, 1, 2, 3, 4, 5]
    assert np.abs(fit.ratings - centred_truth(strengths)).max() < 25
    assert fit.ratings.mean() == pytest.approx(BASE_RATING)
    assert (fit.lower < fit.ratings).all() and (fit.ratings < fit.upper).all()


def test_the_intervals_cover_the_true_strengths_at_about_95_percent():
    strengths = [0.8, 0.3, 0.0, -0.4, -0.7]
    covered = cases = 0
    for dataset in range(40):
        battles = simulate(strengths, 400, seed=100 + dataset, per_item=2)
        fit = fit_ratings(battles, 5, bootstrap=200, seed=dataset)
        truth = centred_truth(strengths)
        covered += int(((fit.lower <= truth) & (truth <= fit.upper)).sum())
        cases += 5
    assert cases == 200
    assert 0.85 <= covered / cases <= 0.99, covered / cases


def fastchat_style_ratings(battles: Battles, n_models: int) -> np.ndarray:
    """Logistic regression on battles, as FastChat describes its MLE Elo: features +1 / -1 for
    the two models, no intercept, (almost) no penalty; a tie is half a win and half a loss."""
    rows = len(battles)
    features = np.zeros((2 * rows, n_models))
    features[np.arange(rows), battles.first] = 1.0
    features[np.arange(rows), battles.second] = -1.0
    features[rows:] = features[:rows]
    wins = np.r_[np.ones(rows), np.zeros(rows)]
    weights = np.r_[battles.outcome, 1.0 - battles.outcome]
    regression = LogisticRegression(fit_intercept=False, C=1e8, tol=1e-10, max_iter=10000)
    regression.fit(features, wins, sample_weight=weights)
    return ELO_PER_LOGIT * regression.coef_[0]


@pytest.mark.parametrize("tie_share", [0.0, 0.2])
def test_the_same_ratings_as_logistic_regression_up_to_a_shift(tie_share):
    strengths = [0.9, 0.4, 0.1, -0.2, -0.6, -1.0, 0.3, -0.3]
    battles = simulate(strengths, 5000, seed=11, tie_share=tie_share)
    ours = fit_ratings(battles, 8, bootstrap=0).ratings
    theirs = fastchat_style_ratings(battles, 8)
    shift = (ours - theirs).mean()
    assert np.abs(ours - theirs - shift).max() < 0.5


def test_ties_count_half_for_each_side():
    battles = Battles(np.arange(4), np.zeros(4, int), np.ones(4, int), np.array([1, 0.5, 0.5, 0]))
    assert win_matrix(battles, 2).tolist() == [[0.0, 2.0], [2.0, 0.0]]
    fit = fit_ratings(battles, 2, bootstrap=0)
    assert fit.ratings == pytest.approx([BASE_RATING, BASE_RATING])


def test_a_model_that_always_wins_gets_a_finite_top_rating():
    battles = Battles(
        np.arange(30), np.zeros(30, int), np.tile([1, 2], 15), np.ones(30)
    )  # model 0 beats 1 and 2 every time; 1 and 2 never meet
    fit = fit_ratings(battles, 3, bootstrap=50, seed=2)
    assert np.isfinite(fit.ratings).all() and np.isfinite(fit.upper).all()
    assert fit.ratings[0] > fit.ratings[1] + 400
    assert fit.ratings[1] == pytest.approx(fit.ratings[2])


def test_parts_that_never_met_are_each_centred_and_marked():
    battles = Battles(
        np.arange(20),
        np.tile([0, 2], 10),
        np.tile([1, 3], 10),
        np.tile([1.0, 1.0, 0.0, 1.0], 5),
    )
    fit = fit_ratings(battles, 4, bootstrap=20)
    assert fit.component.tolist() == [0, 0, 1, 1]
    assert fit.ratings[:2].mean() == pytest.approx(BASE_RATING)
    assert fit.ratings[2:].mean() == pytest.approx(BASE_RATING)
    assert fit.battles.tolist()[0] == [0, 10, 0, 0]


def test_a_model_missing_from_every_resample_has_no_interval():
    fit = fit_ratings(Battles.empty(), 2, bootstrap=10)
    assert np.isnan(fit.lower).all() and fit.units == 0


def test_units_grouped_into_patterns_add_up_to_the_win_matrix(monkeypatch):
    battles = simulate([0.5, 0.0, -0.5, 0.2], 3000, seed=5, per_item=3, tie_share=0.1)
    patterns = unit_patterns(battles, 4)
    assert patterns.units == 3000 and len(patterns.sizes) < 300
    rebuilt = np.bincount(
        patterns.cell, patterns.value * patterns.sizes[patterns.pattern], minlength=16
    ).reshape(4, 4)
    assert rebuilt == pytest.approx(win_matrix(battles, 4))
    # Were every hash to collide, the exact check would make each unit its own pattern.
    monkeypatch.setattr(bradley_terry, "_mix", lambda values: values * np.uint64(0))
    alone = unit_patterns(battles, 4)
    assert len(alone.sizes) == 3000 and (alone.sizes == 1).all()
    rebuilt = np.bincount(alone.cell, alone.value, minlength=16).reshape(4, 4)
    assert rebuilt == pytest.approx(win_matrix(battles, 4))


def test_a_model_seen_in_one_item_gets_a_wide_interval():
    """A 2-0 record in one item is no tight interval (the percentile bootstrap alone gave one
    about 115 points wide, narrower than a model with 16 battles), and its rating is modest."""
    well_seen = simulate([0.4, 0.0, -0.3], 150, seed=21, per_item=2)
    rookie = Battles(np.array([10_000, 10_000]), np.array([3, 3]), np.array([0, 1]), np.ones(2))
    fit = fit_ratings(Battles.concatenate([well_seen, rookie]), 4, bootstrap=200, seed=4)
    width = fit.upper - fit.lower
    seen = (well_seen.first == 0) | (well_seen.second == 0)
    assert len(np.unique(well_seen.unit[seen])) >= 50
    assert width[3] >= 500 and width[3] > 2 * width[0]
    # Two wins are no +600 (the prior of a hundredth of a battle put it 675 above the best
    # model it beat); and its interval reaches down to the well-seen models.
    assert fit.ratings[3] - fit.ratings[:2].max() < 300
    assert fit.lower[3] < fit.ratings[0]


def test_one_tied_item_is_not_a_zero_width_interval():
    battles = Battles(np.zeros(4, int), np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]),
                      np.full(4, 0.5))  # fmt: skip
    fit = fit_ratings(battles, 2, bootstrap=100, seed=1)
    assert fit.ratings == pytest.approx([BASE_RATING, BASE_RATING])
    assert (fit.upper - fit.lower >= 300).all()


def test_with_plenty_of_data_the_wald_and_bootstrap_intervals_nearly_agree():
    """The guard widens where data are scarce, not everywhere: on well-connected data the
    Wald half-width is within a fifth of the bootstrap's."""
    battles = simulate([0.8, 0.3, 0.0, -0.4, -0.7], 4000, seed=31)
    fit = fit_ratings(battles, 5, bootstrap=0)
    rounds = bradley_terry.bootstrap_ratings(unit_patterns(battles, 5), 5, 200, 3)
    low, high = np.percentile(rounds, [2.5, 97.5], axis=0)
    ratio = (bradley_terry.WALD_Z * fit.standard_error) / ((high - low) / 2)
    assert ((ratio > 0.8) & (ratio < 1.25)).all(), ratio
