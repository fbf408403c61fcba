"""An evaluation on another export of the candidate's items never asks about a prompt the
candidate was trained on: the test split of that other dataset is cut by the candidate run's
own training split, the count of prompts left out is in ``prompt_source``, and a dataset whose
test prompts were all trained on is a 400 on ``dataset`` with nothing stored."""

import pytest

from tests.policies.evaluation_fixtures import EVALUATIONS, TEST_ITEMS, grounded_export
from training.models import PolicyEvaluation

pytestmark = pytest.mark.django_db


def start(client, candidate, rubric, dataset):
    body = {"candidate": candidate.pk, "rubric": rubric.pk, "dataset": dataset.pk}
    return client.post(EVALUATIONS, body, format="json")


def test_prompts_the_candidate_trained_on_are_left_out_of_another_export(
    grounded, policies, lead, rubric, api_client_for
):
    sprint, _dataset, items = grounded  # the candidate trained on all items but the last 4
    trained = items[: len(items) - TEST_ITEMS]
    other = grounded_export(sprint, lead, items[: len(items) - 2])  # its last 4 are its test
    answer = start(api_client_for(lead), policies[0], rubric, other)
    assert answer.status_code == 202, answer.json()
    evaluation = PolicyEvaluation.objects.get(pk=answer.json()["id"])
    asked = [(prompt["prompt"], prompt["context"]) for prompt in evaluation.prompts]
    assert asked == [(item.prompt, item.context) for item in items[-TEST_ITEMS:-2]]
    assert not set(map(repr, asked)) & {repr((item.prompt, item.context)) for item in trained}
    assert evaluation.prompt_source["excluded_trained"] == 2


def test_a_dataset_whose_test_prompts_were_all_trained_on_is_refused(
    grounded, policies, lead, rubric, api_client_for
):
    sprint, _dataset, items = grounded
    other = grounded_export(sprint, lead, items[: len(items) - TEST_ITEMS])
    answer = start(api_client_for(lead), policies[0], rubric, other)
    assert answer.status_code == 400
    message = (
        f"Dataset {other.pk} has no test prompts the candidate was not trained on (4 left out)."
    )
    assert answer.json()["errors"] == [{"field": "dataset", "message": message}]
    assert not PolicyEvaluation.objects.exists()
