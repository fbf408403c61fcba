"""The file of one export, as a small pipeline: reader → builder → writer.

- The reader queries the database a chunk at a time (labels, items and responses, or
  judgments; then a preference export's production pairs, feedback.services.
  production_preferences); it runs in the calling thread, with the heartbeat.
- The builder filters and turns chunks into rows of the export's kind (exports.services.rows,
  exports.services.judgments); it never queries.
- The writer serialises rows in the export's format (exports.services.writers) into the hashing
  stream it is given.

Builder and writer run together in a second thread (exports.services.pipeline), so that the
database and Python work at the same time.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import Any

from django.conf import settings

from annotation.models import CriterionKind, Sprint
from exports.models import DatasetVersion
from exports.services import judgments, labels, production_rows, rows, writers
from exports.services.labels import ExportCounts
from exports.services.pipeline import build_in_thread
from exports.services.production_request import PRODUCTION, SPRINTS, production_filters
from exports.services.production_rows import ProductionCounts
from feedback.services.production_preferences import production_pair_chunks

COLUMNS = {
    "preference": rows.PREFERENCE_COLUMNS,
    "consensus": rows.CONSENSUS_COLUMNS,
    "judgments": judgments.JUDGMENT_COLUMNS,
}
PROGRESS_ROWS = 1000


def columns_of(dataset: DatasetVersion) -> tuple[str, ...]:
    """The columns of an export's file, in order."""
    if dataset.kind == "preference" and dataset.production is not None:
        return production_rows.PRODUCTION_PREFERENCE_COLUMNS
    return COLUMNS[dataset.kind]


def write_export_file(
    dataset: DatasetVersion,
    out,
    counts: ExportCounts,
    *,
    heartbeat: Callable[[], None],
    on_rows: Callable[[int], None] | None = None,
    production: ProductionCounts | None = None,
) -> None:
    """Write the export's rows to ``out``, counting kept and dropped items in ``counts``, and
    the production part's rows in ``production``. ``heartbeat`` is called in this thread
    between chunks and while waiting for the builder; ``on_rows`` (a progress bar) is told how
    many rows were built, now and then."""
    sprint_ids = sorted(dataset.sprints.values_list("pk", flat=True))
    reader, builder = _reader_and_builder(dataset, sprint_ids, counts, production)
    write = _writer(dataset, out)

    def consume(chunks: Iterable[Any]) -> None:
        write(_progress(builder(chunks), on_rows))

    build_in_thread(_with_heartbeat(reader, heartbeat), consume, on_wait=heartbeat)
    if dataset.kind != "judgments":
        labels.count_unlabelled(sprint_ids, counts)


def _reader_and_builder(
    dataset: DatasetVersion,
    sprint_ids: list[int],
    counts: ExportCounts,
    production: ProductionCounts | None,
):
    filters = dataset.filters
    if dataset.kind == "judgments":
        live = judgments.live_judgments(sprint_ids, filters, counts)
        names = judgments.pseudonyms(sprint_ids)
        return (
            judgments.read_judgment_chunks(live),
            partial(judgments.judgment_rows, names=names, counts=counts),
        )
    flags = labels.flag_criteria(sprint_ids) if filters["exclude_flagged"] else frozenset()
    if dataset.kind == "consensus":
        return (
            labels.read_label_chunks(sprint_ids, full=True),
            partial(rows.consensus_rows, filters=filters, counts=counts, flags=flags),
        )
    provenance = None
    if dataset.production is not None:
        slugs = dict(Sprint.objects.filter(pk__in=sprint_ids).values_list("pk", "slug"))
        provenance = production_rows.sprint_provenance(slugs)
    builder = partial(
        rows.preference_rows, filters=filters, counts=counts, flags=flags,
        strength_scale=strength_scales(sprint_ids), provenance=provenance,
    )  # fmt: skip
    with_context = rows.export_rendering(filters).context == "prompt"
    reader = labels.read_label_chunks(sprint_ids, context=with_context) if sprint_ids else iter(())
    if dataset.production is None:
        return reader, builder
    return _with_production(dataset, reader, builder, counts, production or ProductionCounts())


def _with_production(
    dataset: DatasetVersion,
    sprint_reader: Iterable[Any],
    sprint_builder: Callable[[Iterable[Any]], Iterator[dict]],
    counts: ExportCounts,
    production: ProductionCounts,
):
    """The reader and builder of a preference export with production pairs: the sprint part's
    chunks, then the production part's, each tagged with its part; the builder hands each run
    of chunks to its part's row builder, in that order."""
    pair_builder = partial(
        production_rows.production_rows, filters=dataset.filters, counts=counts,
        production=production,
    )  # fmt: skip

    def reader() -> Iterator[tuple[str, Any]]:
        for chunk in sprint_reader:
            yield SPRINTS, chunk
        for chunk in production_pair_chunks(production_filters(dataset.production)):
            yield PRODUCTION, chunk

    def builder(tagged: Iterable[tuple[str, Any]]) -> Iterator[dict]:
        for part, run in groupby(tagged, key=itemgetter(0)):
            build = sprint_builder if part == SPRINTS else pair_builder
            yield from build(chunk for _, chunk in run)

    return reader(), builder


def strength_scales(sprint_ids: list[int]) -> dict[int, int]:
    """Sprint → number of strength labels of its preference criterion (0: no scale)."""
    scales = {}
    for sprint in Sprint.objects.filter(pk__in=sprint_ids).select_related("rubric"):
        criterion = sprint.rubric.criteria.filter(kind=CriterionKind.PREFERENCE).first()
        scale = (criterion.config or {}).get("strength_labels", []) if criterion else []
        scales[sprint.pk] = len(scale) if isinstance(scale, list) else 0
    return scales


def _writer(dataset: DatasetVersion, out) -> Callable[[Iterable[dict]], None]:
    if dataset.format == "jsonl":
        return partial(writers.write_jsonl, out=out)
    if dataset.format == "parquet":
        form = dataset.filters.get("form", "standard")
        provenance = dataset.production is not None
        schema = writers.parquet_schema(dataset.kind, form, provenance)
        return partial(writers.write_parquet, out=out, schema=schema)
    return partial(writers.write_csv, out=out, columns=columns_of(dataset))


def _with_heartbeat(chunks: Iterable[Any], heartbeat: Callable[[], None]) -> Iterator[Any]:
    for chunk in chunks:
        heartbeat()
        yield chunk


def _progress(produced: Iterable[dict], on_rows: Callable[[int], None] | None) -> Iterator[dict]:
    """Passes rows through, telling ``on_rows`` every ``PROGRESS_ROWS``.
    ``settings.CONCORD_EXPORT_ROW_DELAY`` (seconds per row, default 0) slows every build down; it
    exists for the test that kills a worker in the middle of a build."""
    delay = settings.CONCORD_EXPORT_ROW_DELAY
    pending = 0
    for row in produced:
        yield row
        if delay:
            time.sleep(delay)
        pending += 1
        if pending == PROGRESS_ROWS:
            if on_rows is not None:
                on_rows(pending)
            pending = 0
    if on_rows is not None and pending:
        on_rows(pending)
