"""Krippendorff's own worked example, computed from judgments stored in the database."""

import json

import krippendorff
import numpy as np
import pytest

from reviews.services.agreement import sprint_agreement
from tests.reviews.agreement_fixtures import (
    WORKED_EXAMPLE,
    WORKED_LEVELS,
    worked_example_sprint,
)


@pytest.fixture
def worked(db, make_user):
    return worked_example_sprint(make_user)


def test_alpha_of_each_level_matches_krippendorff_2011(worked):
    sprint, _ = worked
    report = sprint_agreement(sprint, bootstrap=0)
    matrix = np.array(list(WORKED_EXAMPLE.values()), dtype=float)
    for level, published in WORKED_LEVELS.items():
        figures = report["criteria"][f"score_{level}"]
        assert figures["level"] == level
        assert figures["alpha"] == pytest.approx(published, abs=0.0005)
        expected = krippendorff.alpha(
            reliability_data=matrix, level_of_measurement=level, value_domain=[1, 2, 3, 4, 5]
        )
        assert figures["alpha"] == pytest.approx(expected, abs=1e-12)
        # Unit 12 has one value only (B's), so 11 units of 6 items are pairable; B's judgment
        # of the last item scores nothing else and does not count: 22 of the 23 judgments.
        assert figures["items"] == 6
        assert figures["judgments"] == 22


def test_percent_agreement_counts_equal_pairs_within_units(worked):
    sprint, _ = worked
    report = sprint_agreement(sprint, bootstrap=0)
    # 34 value pairs agree of 44 pairable pairs: counted by hand from the matrix.
    assert report["criteria"]["score_nominal"]["percent_agreement"] == pytest.approx(0.7818, 1e-3)


def test_report_is_json_and_undefined_alpha_is_none(worked):
    sprint, coders = worked
    report = json.loads(json.dumps(sprint_agreement(sprint, bootstrap=50)))
    assert report["items"] == 6
    assert report["judgments"] == 23
    # Every coder ranked a over b: one value only, so alpha is undefined but agreement is full.
    preference = report["criteria"]["preference"]
    assert preference["alpha"] is None
    assert preference["ci"] == [None, None]
    assert preference["percent_agreement"] == 1.0
    assert [a["annotator"] for a in report["annotators"]] == sorted(c.pk for c in coders)


def test_bootstrap_interval_contains_estimate_and_repeats_with_seed(worked):
    sprint, _ = worked
    first = sprint_agreement(sprint, bootstrap=400, seed=7)["criteria"]["score_ordinal"]
    again = sprint_agreement(sprint, bootstrap=400, seed=7)["criteria"]["score_ordinal"]
    other = sprint_agreement(sprint, bootstrap=400, seed=8)["criteria"]["score_ordinal"]
    low, high = first["ci"]
    assert low < first["alpha"] <= high <= 1.0
    assert first["ci"] == again["ci"]
    assert other["ci"] != first["ci"]
