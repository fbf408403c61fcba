"""Training from an export that holds production pairs: a model carries all of its file, so
only someone who leads every sprint *and* every feedback source of the export may train on it
or see it listed (issue 14's exports reach training)."""

import pytest

from tests.support.builders import export_of, feedback_source
from training.services.datasets import datasets_led_by, datasets_visible_to

pytestmark = pytest.mark.django_db


def test_a_sprint_lead_who_does_not_lead_the_source_cannot_train_on_a_mixed_export(
    sprint, lead, make_user, api_client_for
):
    source = feedback_source("support-bot", leads=[make_user("source-lead")])
    mixed = export_of(sprint, lead)
    mixed.feedback_sources.set([source])
    assert mixed not in datasets_led_by(lead)
    answer = api_client_for(lead).post(
        "/api/v1/training-runs", {"dataset": mixed.pk, "epochs": 1}, format="json"
    )
    assert answer.status_code in (403, 404), answer.content
    assert answer.json()["detail"]

    source.leads.add(lead)
    assert mixed in datasets_led_by(lead)


def test_a_source_lead_trains_on_a_production_only_export(make_user):
    source_lead = make_user("source-lead")
    source = feedback_source("support-bot", leads=[source_lead])
    from exports.models import DatasetVersion

    production = DatasetVersion.objects.create(
        created_by=source_lead, kind="preference", format="jsonl", status="done", rows=3
    )
    production.feedback_sources.set([source])
    assert list(datasets_led_by(source_lead)) == [production]
    assert list(datasets_visible_to(source_lead)) == [production]
    stranger = make_user("stranger")
    assert not datasets_led_by(stranger).exists()
    assert not datasets_visible_to(stranger).exists()
