"""Starting a DPO run from the TrainingRun admin: the "Start a policy (DPO) run" form, its
defaults, the run it queues (trained by the worker like any run), refusals on the fields they
name with nothing stored, and only leads may open it."""

import pytest
from django.test import Client

from annotation.models import AuditEvent
from tests.policies.dpo_fixtures import base_root  # noqa: F401 (a fixture)
from tests.support.builders import export_of
from training.models import RunKind, RunStatus, TrainingRun
from training.services.base_models import REFUSED

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("base_root")]

START_DPO = "/admin/training/trainingrun/start-dpo/"
RUNS = "/admin/training/trainingrun/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_body(dataset, **changes):
    body = {
        "dataset": dataset.pk, "base_model": "tiny", "name": "", "epochs": 2, "batch_size": 4,
        "learning_rate": 1e-5, "beta": 0.2, "loss_type": "ipo", "max_length": 256, "seed": 5,
        "lora": "on", "lora_r": 8,
    }  # fmt: skip
    body.update(changes)
    return body


def test_a_lead_starts_a_dpo_run_from_the_admin(lead, sprint, django_capture_on_commit_callbacks):
    dataset = export_of(sprint, lead)
    client = admin_client(lead)
    runs_page = client.get(RUNS)
    assert START_DPO in runs_page.text, "the runs list links to the form"
    page = client.get(START_DPO)
    assert page.status_code == 200 and f'<option value="{dataset.pk}"' in page.text
    assert 'name="beta" value="0.1"' in page.text, "the policy defaults are filled in"
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(START_DPO, form_body(dataset))
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{RUNS}{run.pk}/change/"
    assert len(callbacks) == 1, "queued for a worker once the transaction commits"
    assert (run.kind, run.status, run.base_model) == (RunKind.DPO, RunStatus.QUEUED, "tiny")
    assert run.model_name == "policy-sprint-a" and run.created_by == lead
    config = run.config
    assert (config["beta"], config["loss_type"], config["lora"], config["lora_r"]) == (
        0.2, "ipo", True, 8,
    )  # fmt: skip
    assert config["merge_adapter"] is False and config["lora_alpha"] == 32
    assert AuditEvent.objects.filter(action="training_run.started", actor=lead).exists()
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"beta": 0}, "beta", "Must be above 0 and at most 10."),
        ({"base_model": "/etc"}, "base_model", REFUSED),
        ({"lora": "", "merge_adapter": "on"}, "merge_adapter", "Only with lora: true."),
        ({"name": "bad name"}, "name", "Use 1-100 letters"),
    ],
)
def test_a_refused_dpo_run_shows_why_on_the_field(lead, sprint, changes, field, message):
    dataset = export_of(sprint, lead)
    response = admin_client(lead).post(START_DPO, form_body(dataset, **changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in text for text in errors.get(field, [])), errors
    assert not TrainingRun.objects.exists()


def test_only_leads_open_the_dpo_form(lead, annotator, sprint):
    annotator.is_staff = True
    annotator.save()
    assert admin_client(annotator).get(START_DPO).status_code == 403
    anonymous = Client().get(START_DPO)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_a_done_dpo_runs_admin_page_links_to_its_policy(lead, sprint):
    from tests.support.builders import policy_version

    policy = policy_version(export_of(sprint, lead), lead)
    page = admin_client(lead).get(f"{RUNS}{policy.run.pk}/change/")
    assert page.status_code == 200
    assert f'href="/training/policies/{policy.pk}"' in page.text
    assert "Compare on the models page" not in page.text
