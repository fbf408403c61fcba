"""Evaluating the production version itself with no baseline named is a 400 on ``baseline``
that says so (it used to claim the name had no production version), and nothing is stored."""

import pytest

from tests.policies.evaluation_fixtures import EVALUATIONS
from training.models import PolicyEvaluation

pytestmark = pytest.mark.django_db


def test_the_production_version_as_candidate_needs_a_named_baseline(
    grounded, policies, lead, rubric, api_client_for
):
    _candidate, production = policies
    body = {"candidate": production.pk, "rubric": rubric.pk, "prompts": [{"prompt": "Hi?"}]}
    answer = api_client_for(lead).post(EVALUATIONS, body, format="json")
    assert answer.status_code == 400
    message = "support-policy@v1 is the production version itself; name a baseline."
    assert answer.json()["errors"] == [{"field": "baseline", "message": message}]
    assert not PolicyEvaluation.objects.exists()
