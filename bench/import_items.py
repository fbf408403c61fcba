"""Import throughput: ``import_items`` on real HH-RLHF pairs repeated to N rows, beside
PostgreSQL's own ``COPY`` of the same item and response rows (the physical limit) in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord_bench \\
        .venv/bin/python bench/import_items.py --file ../shared/data/hh-rlhf-harmless-1300.jsonl

The database named in DATABASE_URL is dropped and created afresh. Memory: the script imports a
tenth of the rows first, then all of them, and prints how much each raised the peak RSS, so
that "flat in file size" can be read off one run (the full import should add little or nothing
to the small one's peak). Last line: one JSON object.
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from fresh_database import setup_fresh_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_file(source: Path, items: int, target: Path) -> int:
    """Repeat the source pairs to ``items`` lines, each with its own external id."""
    rows = [json.loads(line) for line in source.open(encoding="utf-8") if line.strip()]
    with target.open("w", encoding="utf-8") as out:
        for i in range(items):
            row = rows[i % len(rows)]
            out.write(json.dumps({"external_id": f"hh-{i}", **row}) + "\n")
    return target.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--file", type=Path, default=ROOT.parent / "shared/data/hh-rlhf-harmless-1300.jsonl"
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    args = parser.parse_args()

    setup_fresh_database("bench/import_items.py")
    from django.db import connection

    from annotation.models import Criterion, Item, Response, Rubric, Sprint
    from annotation.services.imports import import_items

    rubric = Rubric.objects.create(name="bench")
    Criterion.objects.create(
        rubric=rubric, name="preference", kind="preference", question="Better?"
    )

    workdir = Path(os.environ["CONCORD_DATA_DIR"])
    small, full = workdir / "small.jsonl", workdir / "full.jsonl"
    small_items = max(args.items // 10, 1)
    print(f"building {args.items:,} rows from {args.file} ...", flush=True)
    build_file(args.file, small_items, small)
    size = build_file(args.file, args.items, full)
    print(f"file: {size / 1e6:.1f} MB", flush=True)

    def timed_import(path: Path, slug: str, label: str) -> tuple[float, float, int]:
        sprint = Sprint.objects.create(name=slug, slug=slug, rubric=rubric)
        before = rss_mb()
        done = {"bytes": 0, "next": 0}
        total = path.stat().st_size

        def progress(n: int) -> None:
            done["bytes"] += n
            if done["bytes"] >= done["next"]:
                print(f"  {label}: {100 * done['bytes'] / total:5.1f}%", flush=True)
                done["next"] += total // 5

        start = time.perf_counter()
        with path.open("rb") as stream:
            result = import_items(
                sprint, stream, filename=path.name, on_bytes=progress, chunk_size=args.chunk_size
            )
        seconds = time.perf_counter() - start
        assert result.created == Item.objects.filter(sprint=sprint).count()
        return seconds, rss_mb() - before, result.created

    _, small_growth, _ = timed_import(small, "bench-small", f"import {small_items:,}")
    seconds, full_growth, created = timed_import(full, "bench-full", f"import {args.items:,}")
    print(
        f"concord import: {created:,} items in {seconds:.2f} s = {created / seconds:,.0f} items/s",
        flush=True,
    )
    import_peak = rss_mb()  # before the baseline below loads every row into lists

    # Baseline: COPY of the same rows, already serialised, into tables shaped like ours.
    items = list(
        Item.objects.filter(sprint__slug="bench-full").values_list(
            "external_id",
            "prompt",
            "context",
            "metadata",
            "source",
            "stratum",
            "is_gold",
            "content_sha256",
        )
    )
    responses = list(
        Response.objects.filter(item__sprint__slug="bench-full").values_list(
            "key", "text", "model_name", "model_version", "metadata", "position"
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_item (LIKE annotation_item INCLUDING ALL)")
        cursor.execute("CREATE TEMP TABLE copy_response (LIKE annotation_response INCLUDING ALL)")
        item_rows = [
            (
                i + 1,
                1,
                *row[:1],
                json.dumps(row[1]),
                json.dumps(row[2]),
                json.dumps(row[3]),
                *row[4:],
            )
            for i, row in enumerate(items)
        ]
        response_rows = [
            (i + 1, i // 2 + 1, r[0], r[1], r[2], r[3], json.dumps(r[4]), r[5])
            for i, r in enumerate(responses)
        ]
        del items, responses
        start = time.perf_counter()
        raw = cursor.cursor
        with raw.copy(
            "COPY copy_item (id, sprint_id, external_id, prompt, context, metadata, source,"
            " stratum, is_gold, content_sha256, created_at) FROM STDIN"
        ) as copy:
            for row in item_rows:
                copy.write_row((*row, "2026-01-01T00:00:00Z"))
        with raw.copy(
            "COPY copy_response (id, item_id, key, text, model_name, model_version, metadata,"
            " position) FROM STDIN"
        ) as copy:
            for row in response_rows:
                copy.write_row(row)
        copy_seconds = time.perf_counter() - start
    copy_per_s = len(item_rows) / copy_seconds
    print(
        f"COPY baseline: {len(item_rows):,} items in {copy_seconds:.2f} s "
        f"= {copy_per_s:,.0f} items/s",
        flush=True,
    )
    print(
        json.dumps(
            {
                "items": created,
                "items_per_s": round(created / seconds),
                "peak_rss_mb": round(import_peak, 1),
                "rss_growth_mb_small": round(small_growth, 1),
                "rss_growth_mb_full": round(full_growth, 1),
                "small_items": small_items,
                "copy_items_per_s": round(copy_per_s),
                "ratio_to_copy": round((created / seconds) / copy_per_s, 3),
                "file_mb": round(size / 1e6, 1),
                "database": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
