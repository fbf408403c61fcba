"""Starting a DPO run: its defaults, every bad option a 400 naming the field with nothing stored
(an option of reward runs included, and dpo options on a reward run), base models refused with
the one message (outside the roots, another team's policy, a reward model, none at all), and
only leads of every sprint of the dataset may start one (403 for a member, 404 for others)."""

import pytest

from annotation.models import AuditEvent, SprintMember, SprintRole
from tests.policies.dpo_fixtures import (
    RUNS,
    base_root,  # noqa: F401 (a fixture)
    start_dpo,
)
from tests.support.builders import export_of, policy_version, training_run
from training.models import ModelVersion, PolicyVersion, TrainingRun
from training.services.base_models import REFUSED
from training.services.policy_config import PolicyConfig
from training.services.runs import execute_training_run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("base_root")]


def test_a_dpo_run_is_queued_with_the_policy_defaults(lead, sprint, api_client_for):
    dataset = export_of(sprint, lead)
    client = api_client_for(lead)
    response = start_dpo(client, dataset, beta=0.5, lora=True)
    assert response.status_code == 202, response.json()
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert (run.kind, run.model_name, run.base_model) == ("dpo", "policy-sprint-a", "tiny")
    defaults = PolicyConfig()
    assert run.config["beta"] == 0.5 and run.config["lora"] is True
    assert run.config["learning_rate"] == defaults.learning_rate == 5e-6
    assert run.config["lora_r"] == 16 and run.config["loss_type"] == "sigmoid"
    assert run.config["merge_adapter"] is False and "pooling" not in run.config
    listed = client.get(RUNS).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(row["id"], row["kind"]) for row in rows] == [(run.pk, "dpo")]


BAD_OPTIONS = [
    ({"beta": 0}, "beta"),
    ({"beta": 11}, "beta"),
    ({"beta": "high"}, "beta"),
    ({"loss_type": "kto"}, "loss_type"),
    ({"lora_r": 0}, "lora_r"),
    ({"lora_dropout": 0.95}, "lora_dropout"),
    ({"merge_adapter": True}, "merge_adapter"),
    ({"learning_rate": 2.0}, "learning_rate"),
    ({"max_length": 4}, "max_length"),
    ({"epochs": 0}, "epochs"),
    ({"device": "cuda:1"}, "device"),
    ({"pooling": "mean"}, "pooling"),
    ({"use_margin": False}, "use_margin"),
    ({"patience": 2}, "patience"),
    ({"kind": "ppo"}, "kind"),
    ({"base_model": ""}, "base_model"),
    ({"name": "no spaces allowed"}, "name"),
]


@pytest.mark.parametrize(("options", "field"), BAD_OPTIONS)
def test_a_bad_dpo_option_is_a_400_naming_it_and_nothing_is_stored(
    options, field, lead, sprint, api_client_for
):
    dataset = export_of(sprint, lead)
    response = start_dpo(api_client_for(lead), dataset, **options)
    assert response.status_code == 400, response.json()
    assert field in {error.get("field") for error in response.json()["errors"]}, response.json()
    assert not TrainingRun.objects.exists()
    assert not AuditEvent.objects.filter(action="training_run.started").exists()


@pytest.mark.parametrize("option", [{"beta": 0.2}, {"lora": True}, {"loss_type": "ipo"}])
def test_a_dpo_option_on_a_reward_run_is_a_400_naming_it(option, lead, sprint, api_client_for):
    dataset = export_of(sprint, lead)
    response = api_client_for(lead).post(RUNS, {"dataset": dataset.pk, **option}, format="json")
    assert response.status_code == 400
    (field,) = option
    assert response.json()["errors"] == [
        {"field": field, "message": "An option of dpo runs; a reward run does not take it."}
    ]
    assert not TrainingRun.objects.exists()


def test_base_models_are_refused_with_one_message(
    lead, sprint, other_sprint, make_user, api_client_for
):
    dataset = export_of(sprint, lead)
    lead_b = make_user("lead-b")
    SprintMember.objects.create(sprint=other_sprint, user=lead_b, role=SprintRole.LEAD)
    theirs = policy_version(export_of(other_sprint, lead_b), lead_b)
    ours = policy_version(dataset, lead)
    reward_model = ModelVersion.objects.create(
        name="support-rm", version=1, run=training_run(dataset, lead)
    )
    client = api_client_for(lead)
    runs_before = TrainingRun.objects.count()
    refused = [
        "/etc",
        "../tiny",
        "no-such-model",
        f"policy:{theirs.pk}",
        "policy:999999",
        f"model:{reward_model.pk}",
    ]
    for base_model in refused:
        response = start_dpo(client, dataset, base_model)
        assert response.status_code == 400, (base_model, response.json())
        assert response.json()["errors"] == [{"field": "base_model", "message": REFUSED}]
    assert TrainingRun.objects.count() == runs_before
    # A reward run may not start from a policy either; our own policy is a dpo base.
    reward = client.post(
        RUNS, {"dataset": dataset.pk, "base_model": f"policy:{ours.pk}"}, format="json"
    )
    assert reward.status_code == 400 and reward.json()["errors"][0]["field"] == "base_model"
    assert start_dpo(client, dataset, f"policy:{ours.pk}").status_code == 202


def test_only_leads_of_every_sprint_of_the_dataset_start_a_dpo_run(
    lead, annotator, sprint, other_sprint, make_user, api_client_for
):
    dataset = export_of(sprint, lead)
    both = export_of(sprint, lead)
    both.sprints.add(other_sprint)
    outsider = make_user("outsider")
    SprintMember.objects.create(sprint=other_sprint, user=outsider, role=SprintRole.LEAD)

    assert start_dpo(api_client_for(annotator), dataset).status_code == 403
    assert start_dpo(api_client_for(outsider), dataset).status_code == 404
    # A lead of one of the dataset's two sprints is not a lead of the dataset.
    assert start_dpo(api_client_for(lead), both).status_code == 403
    assert start_dpo(api_client_for(None), dataset).status_code in (401, 403)
    assert not TrainingRun.objects.exists()


def test_the_worker_checks_the_base_policy_again_before_loading(lead, sprint, api_client_for):
    """A lead who lost the role of the base policy's data after queueing the run: the worker
    refuses the base model with the one message, and nothing is registered."""
    dataset = export_of(sprint, lead)
    ours = policy_version(dataset, lead)
    response = start_dpo(api_client_for(lead), dataset, f"policy:{ours.pk}")
    assert response.status_code == 202, response.json()
    SprintMember.objects.filter(sprint=sprint, user=lead).update(role=SprintRole.REVIEWER)
    run = execute_training_run(response.json()["id"])
    assert (run.status, run.error) == ("failed", f"base_model: {REFUSED}")
    assert not PolicyVersion.objects.filter(run=run).exists() and not run.artifacts_dir
