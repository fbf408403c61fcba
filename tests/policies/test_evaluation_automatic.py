"""The automatic first look: with a reward model (named, or the one production reward model of
the candidate dataset's sprints) the evaluation scores both responses of every compared prompt
and records the candidate's win rate with a seeded bootstrap interval, before any human label;
without one there is none; a reward model that cannot score leaves the sprint made and says
why."""

import pytest

from tests.policies.evaluation_fixtures import EVALUATIONS, reward_model_of
from training.models import ModelStage
from training.services.evaluations import execute_evaluation
from training.services.scoring import score_items

pytestmark = pytest.mark.django_db


def evaluate(client, candidate, rubric, dataset, **body):
    answer = client.post(
        EVALUATIONS,
        {"candidate": candidate.pk, "rubric": rubric.pk, "dataset": dataset.pk,
         "sampling": {"max_new_tokens": 8}, "seed": 3, **body},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 202, answer.json()
    return answer.json()["id"]


def test_the_production_reward_model_gives_a_first_look_before_any_label(
    grounded, policies, grounded_reward_dir, lead, rubric, api_client_for
):
    _sprint, dataset, _items = grounded
    candidate, _baseline = policies
    reward = reward_model_of(dataset, lead, grounded_reward_dir)
    client = api_client_for(lead)
    evaluation_id = evaluate(client, candidate, rubric, dataset)
    assert client.get(f"{EVALUATIONS}/{evaluation_id}").json()["reward_model"] == reward.pk
    evaluation = execute_evaluation(evaluation_id)
    assert evaluation.status == "done", evaluation.error
    automatic = client.get(f"{EVALUATIONS}/{evaluation_id}").json()["automatic"]
    compared = evaluation.generation["compared"]
    assert automatic["reward_model"] == reward.pk and automatic["label"] == "support-rm v1"
    assert automatic["n"] == compared == automatic["wins"] + automatic["ties"] + automatic["losses"]
    assert automatic["win_rate"] == round((automatic["wins"] + automatic["ties"] / 2) / compared, 4)
    low, high = automatic["ci"]
    assert 0 <= low <= automatic["win_rate"] <= high <= 1

    # The same pairs scored directly give the same wins: candidate and baseline as stored.
    items = []
    for item in evaluation.sprint.items.prefetch_related("responses").order_by("pk"):
        by_version = {r.model_version: r.text for r in item.responses.all()}
        items.append({"prompt": item.prompt, "context": item.context,
                      "responses": [by_version["v2"], by_version["v1"]]})  # fmt: skip
    scores = score_items(reward, items, purpose="evaluation", actor=lead)
    assert automatic["wins"] == sum(ours > theirs for ours, theirs in scores)
    assert execute_evaluation(evaluation_id) is None, "a finished evaluation is not run again"


def test_no_reward_model_no_first_look_and_a_named_one_that_cannot_score_says_why(
    grounded, policies, lead, rubric, api_client_for, make_model_version_here
):
    _sprint, dataset, _items = grounded
    candidate, _baseline = policies
    client = api_client_for(lead)
    none = execute_evaluation(evaluate(client, candidate, rubric, dataset))
    assert none.status == "done" and none.reward_model is None and none.automatic is None

    missing = make_model_version_here(dataset)  # a registered version without artifacts
    evaluation = execute_evaluation(
        evaluate(client, candidate, rubric, dataset, reward_model=missing.pk)
    )
    assert evaluation.status == "done" and evaluation.sprint is not None
    assert evaluation.automatic["reward_model"] == missing.pk
    assert "missing" in evaluation.automatic["error"]


@pytest.fixture
def make_model_version_here(lead):
    from tests.support.builders import training_run
    from training.models import ModelVersion

    def make(dataset):
        run = training_run(dataset, lead, artifacts_dir="training/runs/gone")
        model = ModelVersion.objects.create(
            name="support-rm", version=9, run=run, stage=ModelStage.CANDIDATE
        )
        model.sprints.set(dataset.sprints.all())
        return model

    return make
