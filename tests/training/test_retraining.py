"""The retraining schedule: a production model is retrained exactly when its sprints have
gained the set number of new consensus labels since its run finished, and a finished export
of the same sprints holds them; once, with the production run's settings."""

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotation.models import Item, Response, SprintMember
from exports.models import DatasetVersion
from exports.services.build import build_dataset
from reviews.models import ConsensusLabel
from training.models import ModelStage, RunStatus, TrainingRun
from training.services.runs import fail_abandoned_runs
from training.tasks import fail_abandoned_training_runs, retrain_reward_models

pytestmark = pytest.mark.django_db

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "concord" / "settings.py"


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.CONCORD_RETRAIN_AFTER_LABELS = 3


@pytest.fixture
def encoder(settings, tmp_path) -> str:
    """A base model directory under a configured root."""
    (tmp_path / "encoder").mkdir()
    settings.CONCORD_BASE_MODEL_ROOTS = [str(tmp_path)]
    return str(tmp_path / "encoder")


@pytest.fixture
def production(make_model_version, dataset, encoder):
    finished = timezone.now() - timedelta(days=2)
    type(dataset).objects.filter(pk=dataset.pk).update(created_at=finished - timedelta(hours=1))
    model = make_model_version(
        dataset,
        name="support-rm",
        stage=ModelStage.PRODUCTION,
        base_model=encoder,
        config={"epochs": 3, "learning_rate": 2e-5, "seed": 4, "test_source": "dataset"},
        finished_at=finished,
    )
    return model


def add_labels(sprint, count: int, *, when, start: int = 0) -> None:
    """``count`` items with a consensus label (a before b), last updated ``when``."""
    for index in range(start, start + count):
        item = Item.objects.create(
            sprint=sprint,
            external_id=f"c-{index}",
            prompt=f"Question {index}?",
            content_sha256=f"{index:064d}",
        )
        Response.objects.create(item=item, key="a", text=f"Answer {index}.", position=0)
        Response.objects.create(item=item, key="b", text=f".{index} rewsnA", position=1)
        label = ConsensusLabel.objects.create(
            sprint=sprint, item=item, ranking=["a", "b"], method="majority", confidence=0.9
        )
        ConsensusLabel.objects.filter(pk=label.pk).update(updated_at=when)


def export_now(make_dataset, sprint, when=None, **fields):
    dataset = make_dataset([sprint], **fields)
    type(dataset).objects.filter(pk=dataset.pk).update(created_at=when or timezone.now())
    dataset.refresh_from_db()
    return dataset


def retraining_runs(production):
    return TrainingRun.objects.exclude(pk=production.run_id)


def test_below_the_threshold_nothing_starts(production, sprint, make_dataset):
    add_labels(sprint, 2, when=timezone.now() - timedelta(hours=1))
    # Labels from before the model was trained do not count.
    add_labels(sprint, 5, when=timezone.now() - timedelta(days=3), start=10)
    export_now(make_dataset, sprint)
    assert retrain_reward_models() == ["support-rm v1 (production): below_threshold (2 new labels)"]
    assert not retraining_runs(production).exists()


def test_at_the_threshold_it_exports_then_trains_on_the_export(
    production, lead, sprint, make_dataset, django_capture_on_commit_callbacks
):
    add_labels(sprint, 3, when=timezone.now() - timedelta(hours=2))
    # An export made before the new labels does not hold them.
    export_now(make_dataset, sprint, when=timezone.now() - timedelta(hours=3))
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = retrain_reward_models()
    assert outcome == ["support-rm v1 (production): export_started (3 new labels)"]
    assert len(callbacks) == 1, "the export's build is enqueued"
    export = DatasetVersion.objects.get(status="queued")
    assert (export.kind, export.format, export.created_by) == ("preference", "jsonl", lead)
    assert list(export.sprints.all()) == [sprint]
    assert not retraining_runs(production).exists()

    # While it is being built, nothing more is started.
    assert "waiting_for_export" in retrain_reward_models()[0]
    assert DatasetVersion.objects.filter(status="queued").count() == 1

    build_dataset(export.pk)  # what the export worker does
    export.refresh_from_db()
    assert export.status == "done" and export.rows == 3
    with django_capture_on_commit_callbacks() as callbacks:
        assert "started" in retrain_reward_models()[0]
    assert len(callbacks) == 1
    run = retraining_runs(production).get()
    assert run.dataset == export and run.model_name == "support-rm"


def test_the_threshold_is_the_environment_variable(
    monkeypatch, settings, production, sprint, make_dataset, django_capture_on_commit_callbacks
):
    """CONCORD_RETRAIN_AFTER_LABELS=5, read by concord/settings.py as a starting process reads
    it: four new labels are not enough (under the fixture's 3 they would be), the fifth is."""
    monkeypatch.setenv("CONCORD_RETRAIN_AFTER_LABELS", "5")
    from_environment = runpy.run_path(str(SETTINGS_FILE))["CONCORD_RETRAIN_AFTER_LABELS"]
    settings.CONCORD_RETRAIN_AFTER_LABELS = from_environment
    add_labels(sprint, 4, when=timezone.now() - timedelta(hours=2))
    export_now(make_dataset, sprint, when=timezone.now() - timedelta(hours=1))
    assert retrain_reward_models() == ["support-rm v1 (production): below_threshold (4 new labels)"]

    add_labels(sprint, 1, when=timezone.now() - timedelta(hours=2), start=4)
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = retrain_reward_models()
    assert outcome == ["support-rm v1 (production): started (5 new labels)"]
    assert len(callbacks) == 1 and retraining_runs(production).count() == 1


def test_without_a_lead_to_export_in_whose_name_it_waits(production, sprint, lead):
    SprintMember.objects.filter(user=lead, sprint=sprint).delete()
    add_labels(sprint, 3, when=timezone.now() - timedelta(hours=2))
    assert retrain_reward_models() == [
        "support-rm v1 (production): waiting_for_export (3 new labels)"
    ]
    assert not DatasetVersion.objects.filter(status="queued").exists()
    assert not retraining_runs(production).exists()


def test_at_the_threshold_with_a_fresh_export_one_run_starts(
    production, sprint, make_dataset, encoder, django_capture_on_commit_callbacks
):
    add_labels(sprint, 3, when=timezone.now() - timedelta(hours=2))
    fresh = export_now(make_dataset, sprint, when=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks() as callbacks:
        outcome = retrain_reward_models()
    assert outcome == ["support-rm v1 (production): started (3 new labels)"]
    assert len(callbacks) == 1, "the training task is enqueued"
    run = retraining_runs(production).get()
    assert run.status == RunStatus.QUEUED and run.dataset == fresh
    assert run.model_name == "support-rm" and run.base_model == encoder
    # The run stays its chooser's, so the next retraining checks the base model for them too
    # (found in review: a run of nobody's accepted any model:<id> at the next retraining).
    assert run.created_by == production.run.created_by is not None
    assert (run.config["epochs"], run.config["learning_rate"], run.config["seed"]) == (3, 2e-5, 4)
    assert "test_source" not in run.config
    # A run from before pooling was an option used the model's own head; its retraining too.
    assert run.config["pooling"] == "model"

    # The next tick leaves the name alone: it was retrained.
    assert retrain_reward_models() == [
        "support-rm v1 (production): already_retrained (3 new labels)"
    ]
    assert retraining_runs(production).count() == 1


def test_a_dpo_run_of_the_same_name_is_not_a_retraining(production, sprint, make_dataset):
    """Found in review: a dpo run named like a production reward model (by its own team, or
    another team, since policy names are checked in the policy registry only) counted as its
    retraining, and the model was never retrained again."""
    add_labels(sprint, 3, when=timezone.now() - timedelta(hours=2))
    fresh = export_now(make_dataset, sprint, when=timezone.now() - timedelta(hours=1))
    dpo = TrainingRun.objects.create(
        dataset=fresh, kind="dpo", model_name="support-rm", base_model="policy-base"
    )
    assert retrain_reward_models() == ["support-rm v1 (production): started (3 new labels)"]
    run = retraining_runs(production).exclude(pk=dpo.pk).get()
    assert run.kind == "reward" and run.model_name == "support-rm"


@pytest.mark.parametrize(
    "base_model",
    ["{data_dir}/training/runs/run-1", "/models/encoder", "model:999999"],
    ids=["a-run-directory", "outside-the-roots", "no-such-model"],
)
def test_a_base_model_no_longer_allowed_is_not_retrained_from(
    production, sprint, make_dataset, settings, base_model
):
    """A production run stored before the rule (or after the roots changed) does not carry
    its base model into a scheduled run: the check says so, and nothing is started or exported."""
    value = base_model.format(data_dir=settings.DATA_DIR)
    TrainingRun.objects.filter(pk=production.run_id).update(base_model=value)
    add_labels(sprint, 3, when=timezone.now() - timedelta(hours=2))
    export_now(make_dataset, sprint, when=timezone.now() - timedelta(hours=1))
    exports = DatasetVersion.objects.count()
    assert retrain_reward_models() == [
        "support-rm v1 (production): base_model_refused (3 new labels)"
    ]
    assert not retraining_runs(production).exists()
    assert DatasetVersion.objects.count() == exports


def test_an_export_of_other_sprints_or_filters_does_not_count(
    production, sprint, other_sprint, make_dataset
):
    add_labels(sprint, 4, when=timezone.now() - timedelta(hours=2))
    wider = make_dataset([sprint, other_sprint])
    filtered = export_now(make_dataset, sprint, filters={"min_agreement": 0.8})
    assert wider.pk and filtered.pk
    assert "export_started" in retrain_reward_models()[0]
    assert not retraining_runs(production).exists()


def test_candidates_and_archived_models_are_not_retrained(production, sprint, make_dataset):
    type(production).objects.filter(pk=production.pk).update(stage=ModelStage.ARCHIVED)
    add_labels(sprint, 5, when=timezone.now() - timedelta(hours=2))
    export_now(make_dataset, sprint)
    assert retrain_reward_models() == []
    assert not retraining_runs(production).exists()


def test_a_run_whose_worker_stopped_reporting_is_failed(lead, dataset, settings):
    settings.CONCORD_TRAINING_STALL_SECONDS = 1800
    now = timezone.now()

    def running(minutes_ago):
        return TrainingRun.objects.create(
            dataset=dataset,
            model_name="rm",
            base_model="b",
            status=RunStatus.RUNNING,
            created_by=lead,
            heartbeat_at=now - timedelta(minutes=minutes_ago),
        )

    stale, alive = running(45), running(5)
    assert fail_abandoned_training_runs() == 1
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == RunStatus.FAILED and "stopped reporting" in stale.error
    assert alive.status == RunStatus.RUNNING
    assert fail_abandoned_runs(stall_seconds=60) == 1


def test_an_export_that_adds_production_pairs_does_not_count(
    production, sprint, make_dataset, make_user
):
    """Another lead's export of the same sprints plus their feedback source's pairs is not
    the production model's data: retraining exports afresh instead of training on it."""
    from tests.support.builders import feedback_source

    add_labels(sprint, 4, when=timezone.now() - timedelta(hours=2))
    source = feedback_source("their-bot", leads=[make_user("their-lead")])
    mixed = export_now(make_dataset, sprint, production={"sources": ["their-bot"], "since": None,
                       "until": None, "model_version": None, "kind": None})  # fmt: skip
    mixed.feedback_sources.set([source])
    assert "export_started" in retrain_reward_models()[0]
    assert not retraining_runs(production).exists()
