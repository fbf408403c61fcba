"""Consensus labels are the same as the stored oracle's (see tests/reviews/consensus_oracle.py):
every method, ties, gold, flags, revisions, an adjudicated item and the per-item refresh."""

import json
import os

import pytest

from tests.reviews.consensus_oracle import ORACLE, RUNS, run_oracle

pytestmark = pytest.mark.django_db


def _same(found, expected, where: str) -> None:
    """Exact equality, except a label's confidence (to 1e-9)."""
    assert found.keys() == expected.keys(), where
    for name, label in expected.items():
        got = dict(found[name])
        want = dict(label)
        assert got.pop("confidence") == pytest.approx(want.pop("confidence"), abs=1e-9), (
            where,
            name,
        )
        assert got == want, (where, name)


def test_labels_match_the_oracle(sprint, make_user):
    result = json.loads(json.dumps(run_oracle(sprint, make_user)))
    if os.environ.get("REGENERATE_CONSENSUS_ORACLE"):
        ORACLE.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    expected = json.loads(ORACLE.read_text())

    assert list(result) == [*RUNS, "refresh"]
    for method in RUNS:
        assert result[method]["counts"] == expected[method]["counts"], method
        _same(result[method]["labels"], expected[method]["labels"], method)
    _same({"late": result["refresh"]}, {"late": expected["refresh"]}, "refresh")
    # The data reaches every method and path it is meant to.
    methods = {label["method"] for label in expected["auto"]["labels"].values()}
    assert methods == {"unanimous", "majority", "dawid_skene", "bradley_terry", "adjudicated"}
    assert any(label["tie"] for label in expected["auto"]["labels"].values())
    assert expected["majority"]["counts"]["undecided"] > 0
