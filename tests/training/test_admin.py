"""The training admin for leads: start a run from a form, see only their own runs and
versions, cancel, promote; nothing for staff who lead nothing or for another sprint's lead."""

import pytest
from django.test import Client

from annotation.models import AuditEvent, SprintMember, SprintRole
from training.models import ModelStage, ModelVersion, RunStatus, TrainingRun

pytestmark = pytest.mark.django_db

START = "/admin/training/trainingrun/start/"
RUNS = "/admin/training/trainingrun/"
MODELS = "/admin/training/modelversion/"


def form_body(dataset, **changes):
    body = {
        "dataset": dataset.pk,
        "base_model": "",
        "name": "",
        "epochs": 2,
        "batch_size": 8,
        "learning_rate": 5e-5,
        "max_length": 128,
        "seed": 3,
        "use_margin": "on",
    }
    body.update(changes)
    return body


def test_a_lead_starts_a_run_from_the_admin(
    lead_admin_client, lead, dataset, django_capture_on_commit_callbacks
):
    page = lead_admin_client.get(START)
    assert page.status_code == 200
    assert f'<option value="{dataset.pk}"' in page.text
    with django_capture_on_commit_callbacks() as callbacks:
        response = lead_admin_client.post(START, form_body(dataset))
    run = TrainingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{RUNS}{run.pk}/change/"
    assert len(callbacks) == 1
    assert run.created_by == lead and run.status == RunStatus.QUEUED
    assert (run.config["epochs"], run.config["batch_size"], run.config["seed"]) == (2, 8, 3)
    assert run.config["use_margin"] is True
    assert AuditEvent.objects.filter(action="training_run.started", actor=lead).exists()
    detail = lead_admin_client.get(response["Location"])
    assert detail.status_code == 200 and "reward-sprint-a" in detail.text


def test_the_form_offers_only_trainable_datasets_the_lead_leads(
    lead_admin_client, sprint, other_sprint, make_dataset
):
    usable = make_dataset([sprint])
    running = make_dataset([sprint], status="running")
    theirs = make_dataset([other_sprint])
    csv_export = make_dataset([sprint], [], fmt="csv")
    page = lead_admin_client.get(START).text
    assert f'<option value="{usable.pk}"' in page
    for hidden in (running, theirs, csv_export):
        assert f'<option value="{hidden.pk}"' not in page
    response = lead_admin_client.post(START, form_body(theirs))
    assert response.status_code == 200 and "Select a valid choice" in response.text
    response = lead_admin_client.post(START, form_body(usable, epochs=0))
    assert response.status_code == 200 and "errorlist" in response.text
    assert not TrainingRun.objects.exists()


def test_lists_are_scoped_to_the_lead(
    lead_admin_client, dataset, other_sprint, make_dataset, make_model_version, lead_b
):
    mine = make_model_version(dataset, name="mine-rm")
    theirs = make_model_version(make_dataset([other_sprint], created_by=lead_b), name="their-rm")
    runs = lead_admin_client.get(RUNS)
    assert [run.pk for run in runs.context["cl"].result_list] == [mine.run_id]
    models = lead_admin_client.get(MODELS)
    assert [model.pk for model in models.context["cl"].result_list] == [mine.pk]
    for url in (f"{RUNS}{theirs.run_id}/change/", f"{MODELS}{theirs.pk}/change/"):
        response = lead_admin_client.get(url)
        assert response.status_code == 302 and response["Location"] == "/admin/"


def test_cancel_and_promote_actions(lead_admin_client, lead, dataset, make_model_version):
    queued = TrainingRun.objects.create(
        dataset=dataset, model_name="rm", base_model="b", created_by=lead
    )
    response = lead_admin_client.post(
        RUNS, {"action": "cancel_runs", "_selected_action": [queued.pk]}
    )
    assert response.status_code == 302
    queued.refresh_from_db()
    assert queued.status == RunStatus.CANCELLED

    old = make_model_version(dataset, version=1, stage=ModelStage.PRODUCTION)
    new = make_model_version(dataset, version=2)
    lead_admin_client.post(
        MODELS, {"action": "promote_to_production", "_selected_action": [new.pk]}
    )
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.stage, new.stage) == ("archived", "production")
    assert new.promoted_by == lead

    # Two versions of one name cannot both be promoted.
    lead_admin_client.post(
        MODELS, {"action": "promote_to_production", "_selected_action": [old.pk, new.pk]}
    )
    assert ModelVersion.objects.get(stage="production") == new
    lead_admin_client.post(MODELS, {"action": "archive", "_selected_action": [new.pk]})
    new.refresh_from_db()
    assert new.stage == "archived"

    page = lead_admin_client.get(f"{MODELS}{new.pk}/change/")
    assert page.status_code == 200
    assert 'href="/training/models?name=reward-a"' in page.text
    assert 'name="stage"' not in page.text and 'name="name"' not in page.text, "read-only"


def test_staff_who_lead_nothing_see_no_training_admin(make_user, sprint, dataset, annotator):
    staff = make_user("staff-ann", is_staff=True)
    SprintMember.objects.create(sprint=sprint, user=staff, role=SprintRole.REVIEWER)
    client = Client()
    client.force_login(staff)
    assert client.get(START).status_code == 403
    assert client.post(START, form_body(dataset)).status_code == 403
    assert client.get(RUNS).status_code == 403
    assert client.get(MODELS).status_code == 403
    assert "Training runs" not in client.get("/admin/").text
    assert not TrainingRun.objects.exists()


def test_anonymous_is_sent_to_the_admin_login(dataset):
    response = Client().get(START)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
