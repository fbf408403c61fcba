"""The aggregation methods on their own: Bradley-Terry recovers a known order and is the
maximum-likelihood estimate (crowd-kit's is not, which is why it is not used), Dawid-Skene's
per-item posterior matches crowd-kit's fit, votes and majorities."""

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import BradleyTerry, DawidSkene

from reviews.services.consensus_methods import (
    BT_PRIOR,
    PAIR_CLASSES,
    DawidSkeneParams,
    bradley_terry,
    bradley_terry_ranking,
    class_ranking,
    fit_dawid_skene,
    strict_majority,
    vote_class,
    win_matrix,
)

# crowd-kit 1.4 passes keywords pandas 3 deprecates; the reference fits below are crowd-kit's.
pytestmark = pytest.mark.filterwarnings("ignore:::crowdkit")

TRUE_ORDER = ["d", "b", "e", "a", "c"]


def noisy_rankings(order, count, seed, swaps=2):
    """Rankings of ``order`` with a few random neighbour swaps each."""
    rng = np.random.default_rng(seed)
    rankings = []
    for _ in range(count):
        ranking = list(order)
        for _ in range(swaps):
            place = rng.integers(0, len(ranking) - 1)
            ranking[place], ranking[place + 1] = ranking[place + 1], ranking[place]
        rankings.append(ranking)
    return rankings


def test_bradley_terry_reproduces_a_known_order_from_noisy_rankings():
    keys = sorted(TRUE_ORDER)
    rankings = noisy_rankings(TRUE_ORDER, 9, seed=3)
    # The noise is real: no ranking is shared by a majority of the annotators.
    assert strict_majority(tuple(ranking) for ranking in rankings) is None
    strengths = bradley_terry(win_matrix(keys, rankings)[None])[0]
    ranking, confidence = bradley_terry_ranking(keys, strengths)
    assert ranking == TRUE_ORDER
    assert 0.5 < confidence < 1.0


def test_bradley_terry_is_the_maximum_likelihood_estimate():
    keys = list("abcd")
    wins = win_matrix(keys, noisy_rankings(list("abcd"), 7, seed=11, swaps=3))
    strengths = bradley_terry(wins[None])[0]
    # Stationarity of the log-likelihood (with the pseudo-draws): each response's wins equal
    # its expected wins under the fitted strengths.
    smoothed = wins + BT_PRIOR / 2 * (1 - np.eye(4))
    games = smoothed + smoothed.T
    expected = (games * strengths[:, None] / (strengths[:, None] + strengths[None, :])).sum(1)
    assert np.allclose(expected, smoothed.sum(axis=1), atol=1e-6)


def test_crowd_kit_bradley_terry_stops_after_two_iterations():
    """Why reviews.services.consensus_methods has its own Bradley-Terry: crowd-kit 1.4.2's
    convergence check compares an array with itself, so it never iterates to the estimate."""
    keys = list("abcd")
    rankings = noisy_rankings(keys, 7, seed=11, swaps=3)
    rows = [
        (0, better, worse, better)
        for ranking in rankings
        for place, better in enumerate(ranking)
        for worse in ranking[place + 1 :]
    ]
    frame = pd.DataFrame(rows, columns=["worker", "left", "right", "label"])
    model = BradleyTerry(n_iter=1000).fit(frame)
    assert model.loss_history_ == []
    ours = bradley_terry(win_matrix(keys, rankings)[None], prior=0.0)[0]
    theirs = model.scores_.reindex(keys).to_numpy()
    assert np.abs(ours - theirs).max() > 0.01


def test_bradley_terry_solves_many_items_at_once_like_one_at_a_time():
    keys = list("abc")
    per_item = [win_matrix(keys, noisy_rankings(keys, 5, seed=s)) for s in range(4)]
    together = bradley_terry(np.stack(per_item))
    for index, wins in enumerate(per_item):
        assert np.allclose(together[index], bradley_terry(wins[None])[0], atol=1e-7)


def test_a_response_that_always_wins_gets_a_finite_strength_and_a_high_confidence():
    strengths = bradley_terry(win_matrix(["a", "b"], [["b", "a"]] * 5)[None])[0]
    ranking, confidence = bradley_terry_ranking(["a", "b"], strengths)
    assert ranking == ["b", "a"]
    assert 0.85 < confidence < 1.0


def test_ties_count_half_a_win_each_way():
    wins = win_matrix(["a", "b"], [None, ["a", "b"]])
    assert wins[0, 1] == 1.5 and wins[1, 0] == 0.5


def test_vote_classes_are_positions_so_they_mean_the_same_on_every_item():
    assert vote_class(("x", "y"), ("y", "x")) == "1>0"
    assert vote_class(("p", "q"), ("q", "p")) == "1>0"
    assert vote_class(("x", "y"), None) == "tie"
    assert class_ranking(("x", "y", "z"), "2>0>1") == ["z", "x", "y"]
    assert class_ranking(("x", "y"), "tie") is None


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        (["a", "a", "b"], ("a", 2 / 3)),
        (["a", "b"], None),
        (["a", "b", "c"], None),
        (["a"], ("a", 1.0)),
        ([], None),
    ],
)
def test_strict_majority(votes, expected):
    assert strict_majority(votes) == expected


def test_posterior_from_stored_parameters_matches_crowd_kit():
    rng = np.random.default_rng(5)
    rows = []
    for task in range(60):
        truth = rng.integers(0, 2)
        for worker, accuracy in enumerate([0.9, 0.8, 0.7, 0.2]):
            answer = truth if rng.random() < accuracy else 1 - truth
            rows.append((task, worker, PAIR_CLASSES[answer]))
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"])
    params = fit_dawid_skene(frame, {}, PAIR_CLASSES)
    reference = DawidSkene(n_iter=100).fit(frame)
    # crowd-kit's own E-step with the parameters it ended with.
    expected = DawidSkene._e_step(frame, reference.priors_.copy(), reference.errors_)
    restored = DawidSkeneParams.from_json(**params.as_json())
    for task in range(60):
        votes = [(worker, label) for t, worker, label in rows if t == task]
        ours = restored.posterior(votes)
        for label in ("0>1", "1>0"):
            assert ours[label] == pytest.approx(expected.loc[task, label], abs=1e-9)
        assert ours["tie"] < 1e-6


@pytest.mark.parametrize(
    ("seed", "classes"),
    [
        (0, list(PAIR_CLASSES)),
        (1, list(PAIR_CLASSES)),
        (2, ["0>1>2", "0>2>1", "1>0>2", "2>1>0", "tie"]),
    ],
)
def test_dawid_skene_fit_equals_crowd_kits(seed, classes):
    """Our EM on vote patterns is crowd-kit's DawidSkene step for step: the same priors and
    confusion rows (to rounding), with gold tasks held at their class, workers who skip tasks,
    answers some worker never gives and a class nobody votes for."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in range(400):
        truth = rng.integers(0, len(classes) - 1)  # the last class is never the truth
        for worker, accuracy in enumerate([0.9, 0.8, 0.6, 0.2, 0.5]):
            if rng.random() < 0.15:
                continue
            answer = truth if rng.random() < accuracy else rng.integers(0, len(classes) - 1)
            rows.append((task * 7 + 3, worker * 11 + 5, classes[answer]))
    if seed == 1:
        rows = [row for row in rows if not (row[1] == 5 and row[2] == "1>0")]
    frame = pd.DataFrame(rows, columns=["task", "worker", "label"])
    gold = {task * 7 + 3: classes[rng.integers(0, len(classes) - 1)] for task in range(0, 400, 9)}

    ours = fit_dawid_skene(frame, gold, classes)

    reference = DawidSkene(n_iter=100).fit(frame, true_labels=pd.Series(gold, dtype=object))
    priors = reference.priors_.to_dict()
    assert ours.priors == pytest.approx([priors.get(c, 0.0) for c in classes], abs=1e-12)
    assert ours.priors[-1] == 0.0
    expected: dict[int, list] = {}
    for (worker, answer), row in reference.errors_.iterrows():
        confusion = expected.setdefault(worker, [None] * len(classes))
        confusion[classes.index(answer)] = [float(row.get(c, 0.0)) for c in classes]
    assert ours.confusions.keys() == expected.keys()
    for worker, confusion in expected.items():
        for got, want in zip(ours.confusions[worker], confusion, strict=True):
            assert (got is None) == (want is None)
            if want is not None:
                assert got == pytest.approx(want, abs=1e-12)


def test_an_unknown_annotator_counts_like_any_other_without_a_fit():
    uninformed = DawidSkeneParams.uninformed()
    posterior = uninformed.posterior([(1, "0>1"), (2, "0>1"), (3, "1>0")])
    assert max(posterior, key=posterior.get) == "0>1"
    assert posterior["0>1"] > posterior["1>0"] > posterior["tie"]
