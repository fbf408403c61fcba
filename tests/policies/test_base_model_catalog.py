"""GET /api/v1/base-models: the model folders under the operator's roots, named as a run takes
them, with their kind and whether they have a chat template; a link that leads out of the roots,
a folder without a config and the data directory are not listed; leads only."""

import os

import pytest

from tests.support.tiny_causal_lm import save_tiny_causal_lm
from tests.training.tiny_bert import save_tiny_bert

pytestmark = pytest.mark.django_db
URL = "/api/v1/base-models"


@pytest.fixture
def roots(settings, tmp_path):
    first, second, outside = tmp_path / "models", tmp_path / "more", tmp_path / "outside"
    for folder in (first, second, outside):
        folder.mkdir()
    save_tiny_causal_lm(first / "tiny-llama", chat_template=True)
    save_tiny_bert(first / "tiny-bert")
    (first / "notes").mkdir()  # no config.json: not a model
    save_tiny_causal_lm(second / "tiny-llama")  # the same name in a later root
    save_tiny_causal_lm(outside / "secret-model")
    os.symlink(outside / "secret-model", first / "escape")  # a link out of the roots
    settings.CONCORD_BASE_MODEL_ROOTS = [str(first), str(second)]
    return first, second


def test_a_lead_sees_every_model_under_the_roots_named_as_a_run_takes_it(
    roots, lead, api_client_for
):
    _first, second = roots
    response = api_client_for(lead).get(URL)
    assert response.status_code == 200
    listed = {entry["base_model"]: entry for entry in response.json()["results"]}
    assert set(listed) == {"tiny-bert", "tiny-llama", str((second / "tiny-llama").resolve())}
    llama = listed["tiny-llama"]
    assert llama["kind"] == "causal_lm" and llama["chat_template"] is True
    assert llama["architectures"] == ["LlamaForCausalLM"]
    bert = listed["tiny-bert"]
    assert bert["kind"] == "encoder" and bert["chat_template"] is False
    assert listed[str((second / "tiny-llama").resolve())]["chat_template"] is False
    assert "secret-model" not in response.content.decode()


def test_a_listed_name_starts_a_dpo_run(roots, lead, sprint, api_client_for):
    from tests.support.builders import export_of

    dataset = export_of(sprint, lead)
    client = api_client_for(lead)
    for entry in client.get(URL).json()["results"]:
        if entry["kind"] == "causal_lm":
            body = {"dataset": dataset.pk, "kind": "dpo", "base_model": entry["base_model"]}
            answer = client.post("/api/v1/training-runs", body, format="json")
            assert answer.status_code == 202, (entry, answer.json())


def test_only_leads_see_the_list(roots, annotator, reviewer, api_client_for):
    for user in (annotator, reviewer):
        response = api_client_for(user).get(URL)
        assert response.status_code == 403 and response.json()["detail"]
