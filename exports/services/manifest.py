"""The manifest of an export: what the file is, what went into it, and who made it when.

``parts`` describes each part of the file on its own: ``sprints`` (the sprints, the filters,
its rows, kept and dropped items) and, for a preference export with production pairs,
``production`` (the feedback sources, its filters, rows by kind, source and split); ``rows``
and ``counts`` at the top describe the whole file. A ``preference`` export's manifest has
``rendering`` at the top too: how its prompts were written (form, context, templates; the
``PromptRendering`` of exports.services.prompt_rendering), which a training run copies into its
model version so that every scorer asks the model in the same words.

It lives in the database beside the file (``DatasetVersion.manifest``, served by the API), never
inside the file, so that the file's bytes depend on the data alone. Agreement figures come from
``reviews.services.agreement.sprint_agreement`` with a small bootstrap and a fixed seed, so that
two manifests of the same data state the same intervals.
"""

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django.utils import timezone

from exports.models import DatasetVersion
from exports.services.judgments import annotator_pseudonyms
from exports.services.labels import ExportCounts
from exports.services.production_rows import ProductionCounts
from exports.services.rows import export_rendering

MANIFEST_BOOTSTRAP = 200
MANIFEST_SEED = 0


def concord_version() -> str:
    try:
        return version("concord")
    except PackageNotFoundError:
        return "unknown"


def sprint_entries(
    dataset: DatasetVersion, on_sprint: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """Id, name, rubric version and agreement figures of each sprint, in id order.
    ``on_sprint`` is called after each (agreement can take a while on a large sprint; the build
    stamps its heartbeat there)."""
    from reviews.services.agreement import sprint_agreement

    entries = []
    for sprint in dataset.sprints.select_related("rubric").order_by("pk"):
        entries.append(
            {
                "id": sprint.pk,
                "name": sprint.name,
                "rubric": {
                    "id": sprint.rubric_id,
                    "name": sprint.rubric.name,
                    "version": sprint.rubric.version,
                },
                "agreement": sprint_agreement(
                    sprint, bootstrap=MANIFEST_BOOTSTRAP, seed=MANIFEST_SEED
                ),
            }
        )
        if on_sprint is not None:
            on_sprint()
    return entries


def build_manifest(
    dataset: DatasetVersion,
    *,
    sprints: list[dict[str, Any]],
    columns: tuple[str, ...],
    counts: ExportCounts,
    sha256: str,
    size: int,
    production: ProductionCounts | None = None,
) -> dict[str, Any]:
    sprint_ids = [entry["id"] for entry in sprints]
    production = production or ProductionCounts()
    parts: dict[str, Any] = {}
    if sprint_ids:
        sprint_counts = counts.as_dict()
        sprint_counts["rows"] = counts.rows - production.rows
        sprint_counts["rows_by_split"] = {
            side: rows for side, rows in sorted((counts.splits - production.splits).items())
        }
        parts["sprints"] = {"sprints": sprint_ids, "filters": dataset.filters, **sprint_counts}
    if dataset.production is not None:
        parts["production"] = {
            "sources": dataset.production["sources"],
            "filters": {k: v for k, v in dataset.production.items() if k != "sources"},
            **production.as_dict(),
        }
    manifest = {
        "dataset": dataset.pk,
        "kind": dataset.kind,
        "format": dataset.format,
        "columns": list(columns),
        "rows": counts.rows,
        "bytes": size,
        "sha256": sha256,
        "filters": dataset.filters,
        "sprints": sprints,
        "counts": counts.as_dict(),
        "sources": list(parts),
        "parts": parts,
        "annotators": annotator_pseudonyms(sprint_ids),
        "concord_version": concord_version(),
        "created_by": dataset.created_by.get_username(),
        "created_at": dataset.created_at.isoformat(),
        "finished_at": timezone.now().isoformat(),
    }
    if dataset.kind == "preference":
        manifest["rendering"] = export_rendering(dataset.filters).as_dict()
    return manifest
