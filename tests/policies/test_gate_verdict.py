"""The gate's verdict on an evaluation sprint's consensus labels: the human win rate of the
candidate over production with its seeded bootstrap interval, the counts, the rule (the
evaluation's own, else the setting), the automatic first look, both datasets and the
leaderboard's ratings; refused with too few comparisons or a lower bound not above 0.5."""

import pytest

from tests.policies.gate_fixtures import AUTOMATIC, evaluated
from tests.support.builders import export_of, policy_version
from training.models import ModelStage
from training.services.policy_gate import gate_verdict, win_rate_interval

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(lead, sprint):
    dataset = export_of(sprint, lead)
    production = policy_version(dataset, lead, stage=ModelStage.PRODUCTION)
    return policy_version(dataset, lead), production


def test_a_clear_win_with_enough_comparisons_is_allowed(pair, lead):
    candidate, production = pair
    verdict = gate_verdict(evaluated(candidate, production, lead, wins=32, losses=4, ties=4))
    assert verdict["allowed"] is True
    human = verdict["human"]
    assert (human["n"], human["items"], human["wins"], human["ties"], human["losses"]) == (
        40, 40, 32, 4, 4)  # fmt: skip
    assert human["win_rate"] == pytest.approx((32 + 2) / 40)
    low, high = human["ci"]
    assert 0.5 < low < human["win_rate"] < high <= 1.0
    assert verdict["rule"] == {"min_comparisons": 30, "lower_bound_above": 0.5}
    assert verdict["automatic"] == AUTOMATIC
    assert verdict["datasets"]["candidate"]["id"] == candidate.run.dataset_id
    assert verdict["datasets"]["baseline"]["sprints"] == ["sprint-a"]
    ratings = verdict["leaderboard"]
    assert ratings["candidate"]["rating"] > ratings["baseline"]["rating"]
    assert ratings["candidate"]["comparisons"] == 40
    wins, ties, losses = human["wins"], human["ties"], human["losses"]
    assert verdict["reasons"][0].startswith(
        f"Win rate 0.850 over 40 human comparisons ({wins} won, {ties} tied, {losses} lost); "
    )


def test_the_verdict_is_the_same_each_time(pair, lead):
    evaluation = evaluated(*pair, lead, wins=25, losses=10, ties=3)
    assert gate_verdict(evaluation) == gate_verdict(evaluation)


def test_too_few_comparisons_are_refused_even_when_all_are_won(pair, lead):
    verdict = gate_verdict(evaluated(*pair, lead, wins=20))
    assert verdict["allowed"] is False
    assert verdict["human"]["win_rate"] == 1.0
    assert verdict["reasons"] == ["20 human comparison(s); the rule needs at least 30."]


def test_a_lower_bound_at_or_below_one_half_is_refused(pair, lead):
    verdict = gate_verdict(evaluated(*pair, lead, wins=19, losses=17))
    assert verdict["allowed"] is False
    assert verdict["human"]["n"] == 36 and verdict["human"]["ci"][0] <= 0.5
    [reason] = verdict["reasons"]
    assert "interval starts at" in reason and "not above 0.5" in reason


def test_the_rule_is_the_evaluations_own_else_the_setting(pair, lead, settings):
    assert gate_verdict(evaluated(*pair, lead, wins=8, gate={"min_comparisons": 5}))["allowed"]
    settings.CONCORD_GATE_MIN_COMPARISONS = 50
    verdict = gate_verdict(evaluated(*pair, lead, wins=40))
    assert verdict["rule"]["min_comparisons"] == 50 and verdict["allowed"] is False
    strict = evaluated(*pair, lead, wins=30, losses=10,
                       gate={"lower_bound_above": 0.9, "min_comparisons": 5})  # fmt: skip
    verdict = gate_verdict(strict)
    assert verdict["rule"] == {"min_comparisons": 5, "lower_bound_above": 0.9}
    assert verdict["allowed"] is False
    [reason] = verdict["reasons"]
    assert "not above 0.9" in reason


def test_an_unfinished_evaluation_or_a_replaced_baseline_is_refused(pair, lead):
    candidate, production = pair
    running = evaluated(candidate, production, lead, wins=40, status="running")
    assert gate_verdict(running)["reasons"] == [f"Evaluation {running.pk} is running, not done."]
    done = evaluated(candidate, production, lead, wins=40)
    production.stage = ModelStage.ARCHIVED
    production.save()
    verdict = gate_verdict(done)
    assert verdict["allowed"] is False and "no longer in production" in verdict["reasons"][0]


def test_the_interval_is_seeded_and_brackets_the_rate():
    import numpy as np

    scores = np.array([1.0] * 30 + [0.0] * 10 + [0.5] * 4)
    counts = np.ones(len(scores))
    first = win_rate_interval(scores, counts, seed=3)
    assert first == win_rate_interval(scores, counts, seed=3)
    assert first[0] < scores.mean() < first[1]
