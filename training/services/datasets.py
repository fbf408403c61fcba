"""Which dataset versions a user may train from, and reading a preference file into rows.

Access: a dataset version may span several sprints and feedback sources, and a model trained
from it carries all of their data, so a user leads a dataset only when they lead *every* one of
its sprints and sources (superusers lead all). A user who is a member of at least one of its
sprints (or leads one of its sources) but does not lead them all may learn that it exists (403);
anyone else gets 404, as for sprints.

Reading: only ``preference`` files in JSONL or Parquet are trained from. CSV exports are for
spreadsheets: their cells are defused against formula injection, which changes the text, so a
model must not learn from them.
"""

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet

from annotation.services import artifact_store
from annotation.services.access import sprints_led_by, sprints_visible_to
from annotation.services.errors import ConcordError
from exports.models import DatasetVersion, ExportFormat, ExportKind, ExportStatus
from exports.services.access import exports_visible_to
from exports.services.grouped import expand_grouped_rows
from feedback.services.feedback_access import sources_led_by

TRAINABLE_FORMATS = (ExportFormat.JSONL, ExportFormat.PARQUET)


class DatasetUnusable(ConcordError):
    """The dataset version cannot be trained from; the message says why, for the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message, status, field="dataset", detail=message)


def datasets_led_by(user: AbstractBaseUser) -> QuerySet[DatasetVersion]:
    """Dataset versions whose every sprint and every feedback source ``user`` leads (at least
    one of either): the export's own rule, since a model trained on a file carries all of it."""
    return exports_visible_to(user)


def datasets_visible_to(user: AbstractBaseUser) -> QuerySet[DatasetVersion]:
    """Dataset versions with a sprint ``user`` is a member of or a feedback source they lead
    (all for a superuser)."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return DatasetVersion.objects.all()
    visible = sprints_visible_to(user).values("pk")
    led_sources = sources_led_by(user).values("pk")
    return DatasetVersion.objects.filter(
        pk__in=DatasetVersion.objects.filter(
            Q(sprints__in=visible) | Q(feedback_sources__in=led_sources)
        ).values("pk")
    )


def leads_any_sprint(user: AbstractBaseUser) -> bool:
    return sprints_led_by(user).exists()


def check_trainable(dataset: DatasetVersion) -> None:
    """Raise :class:`DatasetUnusable` unless ``dataset`` is a finished preference export in a
    format the trainer reads."""
    if dataset.kind != ExportKind.PREFERENCE:
        raise DatasetUnusable(
            f"Dataset {dataset.pk} is a {dataset.kind} export; training needs a preference export."
        )
    if dataset.status != ExportStatus.DONE:
        raise DatasetUnusable(
            f"Dataset {dataset.pk} is {dataset.status}; only a finished (done) export is trained "
            "from."
        )
    if dataset.format not in TRAINABLE_FORMATS:
        raise DatasetUnusable(
            f"Dataset {dataset.pk} is {dataset.format}; train from a JSONL or Parquet export "
            "(CSV cells are defused for spreadsheets, which changes the text)."
        )


@dataclass
class PreferenceSplits:
    """The rows the trainer gets, and how the test rows were chosen (saved in the run's
    config): ``"dataset"`` when the file has a test split, otherwise ``"holdout"`` with the
    share and seed used."""

    train: list[dict[str, Any]]
    test: list[dict[str, Any]]
    test_source: str
    holdout_share: float | None = None


def dataset_file(dataset: DatasetVersion) -> Path:
    """A local copy of the dataset's file from the artifact store, verified against the
    SHA-256 recorded when it was exported (annotation.services.artifact_store: on S3 it is
    staged into the artifact cache under that digest). Raises :class:`DatasetUnusable` when
    the file is missing, its name leaves the store, or its bytes do not match. A dataset
    with no recorded digest (made before digests were kept) is read from the local store
    unverified; a remote store needs the digest to stage it."""
    label = f"The file of dataset {dataset.pk}"
    try:
        if dataset.sha256:
            return artifact_store.stage_file(dataset.file_path, dataset.sha256, label=label)
        if not dataset.file_path or artifact_store.local_root() is None:
            raise DatasetUnusable(f"Dataset {dataset.pk} has no file with a recorded SHA-256.")
        path = artifact_store.local_path(dataset.file_path)
    except artifact_store.ArtifactMissing:
        if artifact_store.local_root() is not None and not _inside_store(dataset.file_path):
            raise DatasetUnusable(
                f"Dataset {dataset.pk} has no file inside the data directory."
            ) from None
        raise DatasetUnusable(f"{label} is missing: {dataset.file_path}") from None
    except artifact_store.ArtifactCorrupt as corrupt:
        raise DatasetUnusable(str(corrupt)) from None
    if not path.is_file():
        raise DatasetUnusable(f"{label} is missing: {dataset.file_path}")
    return path


def _inside_store(name: str) -> bool:
    try:
        artifact_store.local_path(name)
    except artifact_store.ArtifactMissing:
        return False
    return bool(name)


def read_preference_rows(dataset: DatasetVersion) -> list[dict[str, Any]]:
    """Every pair of the dataset's file, as dicts with ``prompt``, ``chosen``, ``rejected``,
    ``margin``, ``item_id`` and ``split``. A grouped row (``rejected`` a list of every
    lower-ranked response, ``margin`` the list aligned with it) becomes one pair per rejected
    response, in its order (``exports.services.grouped.expand_grouped_rows``). Raises
    :class:`DatasetUnusable` on a row without ``chosen`` or ``rejected``, naming the row."""
    check_trainable(dataset)
    path = dataset_file(dataset)
    if dataset.format == ExportFormat.PARQUET:
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        with path.open("rb") as stream:
            rows = [orjson.loads(line) for line in stream if line.strip()]
    for number, row in enumerate(rows, start=1):
        for column in ("chosen", "rejected"):
            if not row.get(column):
                raise DatasetUnusable(f"Row {number} of dataset {dataset.pk} has no {column!r}.")
        row.setdefault("prompt", "")
    return list(expand_grouped_rows(rows))


def split_rows(
    rows: list[dict[str, Any]], *, seed: int, holdout_share: float | None = None
) -> PreferenceSplits:
    """Split rows by their ``split`` column. When no row is marked ``test``, hold out a seeded
    share of the *items* (all pairs of an item stay on one side, so an item with several
    responses cannot leak from training into evaluation); at least one item is held out."""
    train = [row for row in rows if row.get("split", "train") != "test"]
    test = [row for row in rows if row.get("split") == "test"]
    if test and train:
        return PreferenceSplits(train=train, test=test, test_source="dataset")
    share = holdout_share
    if share is None:
        share = settings.CONCORD_TRAINING_HOLDOUT_SHARE
    groups: dict[str, list[dict[str, Any]]] = {}
    for index, row in enumerate(rows):
        key = str(row.get("item_id") if row.get("item_id") is not None else f"row-{index}")
        groups.setdefault(key, []).append(row)
    if len(groups) < 2:
        raise DatasetUnusable("The dataset needs pairs from at least two items to hold one out.")
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    held = max(1, round(len(keys) * share))
    held_keys = set(keys[:held])
    return PreferenceSplits(
        train=[row for key in keys if key not in held_keys for row in groups[key]],
        test=[row for key in keys if key in held_keys for row in groups[key]],
        test_source="holdout",
        holdout_share=share,
    )
