"""The evaluation sprint is blind: an annotator's next item (API) and labeling page show the two
responses by key only, never the policies' names, versions or labels, nor the evaluation."""

import pytest
from django.test import Client

from tests.policies.evaluation_fixtures import EVALUATIONS
from training.services.evaluations import execute_evaluation

pytestmark = pytest.mark.django_db

SECRETS = ("support-policy", "@v1", "@v2", '"v1"', '"v2"', "model_name", "model_version")


def test_annotators_never_see_which_policy_wrote_a_response(
    grounded, policies, lead, annotator, rubric, api_client_for
):
    _sprint, dataset, _items = grounded
    candidate, _baseline = policies
    answer = api_client_for(lead).post(
        EVALUATIONS,
        {"candidate": candidate.pk, "rubric": rubric.pk, "dataset": dataset.pk,
         "sampling": {"max_new_tokens": 6}, "seed": 3},
        format="json",
    )  # fmt: skip
    evaluation = execute_evaluation(answer.json()["id"])
    assert evaluation.status == "done", evaluation.error
    sprint = evaluation.sprint
    served = api_client_for(annotator).get(f"/api/v1/sprints/{sprint.pk}/next")
    assert served.status_code == 200, served.content
    body = served.json()
    shown = body.get("item", body)
    texts = {response["text"] for response in shown["responses"]}
    stored = {r.text for r in sprint.items.get(pk=shown["id"]).responses.all()}
    assert texts == stored and len(texts) == 2
    raw = served.content.decode()
    for secret in (*SECRETS, f'"evaluation": {evaluation.pk}', "eval-"):
        assert secret not in raw, secret

    browser = Client()
    browser.force_login(annotator)
    for path in (f"/sprints/{sprint.pk}/label", f"/sprints/{sprint.pk}/label/panel"):
        page = browser.get(path)
        assert page.status_code == 200
        html = page.content.decode()
        for secret in SECRETS:
            assert secret not in html, (path, secret)
        assert any(text in html for text in texts if text.isascii()), "the answers are shown"
    # The annotator's list of sprints (home page) names the sprint, not the policies.
    home = browser.get("/").content.decode()
    assert sprint.slug in home or sprint.name in home
    for secret in SECRETS:
        assert secret not in home, ("home", secret)
