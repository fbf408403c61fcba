"""The model comparison page: what a lead sees (metrics table, SVG curves, no inline script, a
strict Content-Security-Policy) and who sees nothing."""

import re

import pytest
from django.test import Client

from training.models import ModelStage

pytestmark = pytest.mark.django_db

PAGE = "/training/models"


def metrics(accuracies, losses):
    return {
        "train_loss": [{"step": i + 1, "loss": loss} for i, loss in enumerate(losses)],
        "eval": [
            {"epoch": i + 1, "accuracy": acc, "loss": 0.5 - i / 10}
            for i, acc in enumerate(accuracies)
        ],
        "final_accuracy": accuracies[-1],
        "pairs_per_second": 123.4,
        "train_seconds": 9.5,
        "device": "cpu",
    }


@pytest.fixture
def versions(dataset, make_model_version):
    first = make_model_version(
        dataset,
        version=1,
        stage=ModelStage.ARCHIVED,
        metrics=metrics([0.61, 0.7], [0.69, 0.6, 0.5]),
        config={"epochs": 2, "batch_size": 16, "learning_rate": 5e-5, "seed": 0},
    )
    second = make_model_version(
        dataset,
        version=2,
        stage=ModelStage.PRODUCTION,
        metrics=metrics([0.8, 0.9, 0.93], [0.69, 0.4, 0.2, 0.1]),
        config={"epochs": 3, "batch_size": 8, "learning_rate": 1e-4, "seed": 1},
    )
    return first, second


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_lead_compares_the_versions_of_a_name(lead, versions):
    response = client_for(lead).get(PAGE)
    assert response.status_code == 200
    html = response.text
    assert "reward-a v1" in html and "reward-a v2" in html
    assert "0.930" in html and "0.700" in html, "final accuracies in the table"
    assert "production" in html and "archived" in html
    # Two charts, one polyline per version in each, and markers for the epochs.
    assert html.count("<svg viewBox") == 2
    assert len(re.findall(r"<polyline points=\"[\d.,\s]+\"", html)) == 4
    assert html.count("<circle") == 5
    # Our own static script only (the promote button's confirmation), never an inline one.
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all(
        re.fullmatch(r'<script src="/static/[\w/.-]+\.js"( defer)?>', s) for s in scripts
    ), scripts
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy


def test_versions_can_be_picked_by_id(lead, versions):
    first, _ = versions
    html = client_for(lead).get(PAGE, {"v": [first.pk]}).text
    assert f'data-model="{first.pk}"' in html and 'data-model="' + str(versions[1].pk) not in html


def test_a_lead_with_no_models_gets_an_explanation(lead):
    response = client_for(lead).get(PAGE)
    assert response.status_code == 200
    assert "No model version yet" in response.text


def test_other_leads_see_neither_the_versions_nor_their_ids(
    lead_b, versions, other_sprint, make_dataset, make_model_version
):
    theirs = make_model_version(make_dataset([other_sprint], created_by=lead_b), name="b-rm")
    client = client_for(lead_b)
    html = client.get(PAGE).text
    assert "reward-a" not in html and "b-rm v1" in html
    assert client.get(PAGE, {"v": [versions[0].pk]}).status_code == 404
    assert client.get(PAGE, {"v": ["x"]}).status_code == 404
    assert client.get(PAGE, {"v": [theirs.pk]}).status_code == 200


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_members_who_are_not_leads_get_403(request, role, versions):
    client = client_for(request.getfixturevalue(role))
    assert client.get(PAGE).status_code == 403
    assert client.get(PAGE, {"v": [versions[0].pk]}).status_code == 403


def test_anonymous_is_sent_to_log_in(versions):
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_admin_links_to_the_page(lead, versions, lead_admin_client):
    for url in ("/admin/training/modelversion/", "/admin/training/trainingrun/"):
        assert 'href="/training/models"' in lead_admin_client.get(url).text
