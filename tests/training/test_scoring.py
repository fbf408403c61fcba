"""Scoring with a registered production model: the scores are the trained model's, and loaded
scorers are kept per process in a small LRU cache keyed by model version."""

import pytest

from training.models import ModelStage
from training.services.scoring import cached_model_ids, clear_scorer_cache, scorer_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    clear_scorer_cache()
    yield
    clear_scorer_cache()


def score(client, model, prompt, responses):
    return client.post(
        f"/api/v1/models/{model.pk}/score",
        {"prompt": prompt, "responses": responses},
        format="json",
    )


def test_the_endpoint_answers_the_models_scores_in_order(
    lead, trained_model_version, api_client_for
):
    responses = ["Rome is the capital of Italy.", "Italy. of capital the is emoR", "Rome."]
    response = score(
        api_client_for(lead), trained_model_version, "What is the capital of Italy?", responses
    )
    assert response.status_code == 200, response.json()
    scores = response.json()["scores"]
    direct = scorer_for(trained_model_version).score("What is the capital of Italy?", responses)
    assert scores == pytest.approx(direct)
    assert scores[0] > scores[1]
    reversed_scores = score(
        api_client_for(lead),
        trained_model_version,
        "What is the capital of Italy?",
        responses[::-1],
    ).json()["scores"]
    assert reversed_scores == pytest.approx(scores[::-1], abs=1e-5)


def test_scorers_are_cached_least_recently_used_first(
    settings, lead, dataset, trained_model_version, make_model_version, api_client_for
):
    settings.CONCORD_SCORER_CACHE_SIZE = 1
    client = api_client_for(lead)
    other = make_model_version(
        dataset,
        name="other-rm",
        stage=ModelStage.PRODUCTION,
        artifacts_dir=trained_model_version.run.artifacts_dir,
    )
    first = scorer_for(trained_model_version)
    assert score(client, trained_model_version, "q", ["a"]).status_code == 200
    assert scorer_for(trained_model_version) is first, "loaded once, then served from the cache"
    assert cached_model_ids() == [trained_model_version.pk]
    assert score(client, other, "q", ["a"]).status_code == 200
    assert cached_model_ids() == [other.pk], "the least recently used one is dropped"
    settings.CONCORD_SCORER_CACHE_SIZE = 2
    scorer_for(trained_model_version)
    scorer_for(other)
    assert cached_model_ids() == [trained_model_version.pk, other.pk]
