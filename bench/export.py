"""Export throughput: a ``preference`` export of N pairs from PostgreSQL, beside PostgreSQL's
own ``COPY (SELECT …) TO STDOUT`` of the same rows into a file (the physical limit), in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_export_bench \\
        .venv/bin/python bench/export.py --pairs 1000000

The database is dropped, created and filled with COPY: two sprints of items whose two responses
come from the HH-RLHF harmless sample (the shared turns are the prompt), each item with a
consensus label; one sprint has N pairs, the other N/4. Each export runs in a fresh child
process (``--build``), which times ``build_dataset`` end to end (queries, rows, JSONL, SHA-256,
fsync, rename, manifest) and reports its own peak RSS (``ru_maxrss``): memory flat in row count
means the N-pair export peaks about where the N/4 one does. COPY writes the same columns of the
same rows, in the same order, to a file. ``ratio_to_copy`` is the export's rows per second over
COPY's (the goal is at least 1/3). Last line: one JSON object.

``--store s3`` puts the exports in an S3 artifact store instead of the data directory: it
starts moto's standalone S3 server on a loopback port (tests/support/s3_server.py; no real S3
server is installable here) and points ``CONCORD_STORAGE=s3`` at it, so each build ends with an
upload (the manifest, then the file). In the same run the big export is built once more on the
local store, the named baseline: ``local_rows_per_s`` and ``ratio_to_local``.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STRENGTH_LABELS = ["slightly", "clearly", "much"]


def split_dialogue(chosen: str, rejected: str) -> tuple[str, str, str]:
    """HH-RLHF rows are whole dialogues: the shared turns are the prompt."""
    cut = chosen.rfind("\n\nAssistant:") + len("\n\nAssistant:")
    return chosen[:cut].strip(), chosen[cut:].strip(), rejected[cut:].strip()


def fill(sprint, pairs: int, source: list[tuple[str, str, str]], first_id: int) -> int:
    """Items, their two responses and a consensus label each, straight in with COPY."""
    from django.db import connection

    from annotation.models import Item, Response
    from reviews.models import ConsensusLabel

    rng = random.Random(sprint.pk)
    ids = range(first_id, first_id + pairs)
    with connection.connection.cursor() as cur:
        with cur.copy(
            f"COPY {Item._meta.db_table} (id, sprint_id, external_id, prompt, context, metadata, "
            "source, stratum, is_gold, content_sha256, created_at, is_full) FROM STDIN"
        ) as copy:
            for n, item_id in enumerate(ids):
                prompt = source[n % len(source)][0] + f" (#{n})"
                copy.write_row((item_id, sprint.pk, f"x-{n}", json.dumps(prompt), "[]", "{}",
                                "", "", False, f"{item_id:064x}", "2026-01-01", False))  # fmt: skip
        with cur.copy(
            f"COPY {Response._meta.db_table} (item_id, key, text, model_name, model_version, "
            "metadata, position) FROM STDIN"
        ) as copy:
            for n, item_id in enumerate(ids):
                _, good, bad = source[n % len(source)]
                copy.write_row((item_id, "a", good, "", "", "{}", 0))
                copy.write_row((item_id, "b", bad, "", "", "{}", 1))
        with cur.copy(
            f"COPY {ConsensusLabel._meta.db_table} (sprint_id, item_id, ranking, tie, strength, "
            "answers, method, confidence, agreement, judgment_ids, updated_at) FROM STDIN"
        ) as copy:
            for item_id in ids:
                ranking = '["a", "b"]' if rng.random() < 0.8 else '["b", "a"]'
                copy.write_row((sprint.pk, item_id, ranking, False, rng.choice([1, 2, 3]), "{}",
                                "majority", 0.8, rng.choice([0.6, 0.8, 1.0]), "[]",
                                "2026-01-01"))  # fmt: skip
    return first_id + pairs


def copy_baseline(sprint_id: int, target: Path) -> tuple[float, int]:
    """The same columns of the same rows, in the same order, from the server into a file."""
    from django.db import connection

    sql = f"""
        COPY (
          SELECT i.prompt #>> '{{}}', rc.text, rr.text, c.strength / {len(STRENGTH_LABELS)}.0,
                 c.agreement, i.id, 'train'
          FROM reviews_consensuslabel c
          JOIN annotation_item i ON i.id = c.item_id
          JOIN annotation_response rc ON rc.item_id = i.id AND rc.key = c.ranking ->> 0
          JOIN annotation_response rr ON rr.item_id = i.id AND rr.key = c.ranking ->> 1
          WHERE c.sprint_id = {sprint_id} ORDER BY i.id
        ) TO STDOUT"""
    started = time.perf_counter()
    with connection.connection.cursor() as cur, target.open("wb") as out, cur.copy(sql) as copy:
        for block in copy:
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    seconds = time.perf_counter() - started
    with target.open("rb") as f:
        lines = sum(1 for _ in f)
    return seconds, lines


def build_in_child(dataset_id: int, **env_extra: str) -> dict:
    """Run one export in a fresh interpreter, so that its peak RSS is the export's alone."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "concord.settings", **env_extra}
    done = subprocess.run(
        [sys.executable, __file__, "--build", str(dataset_id)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_build(dataset_id: int) -> None:
    """The child: set Django up on the existing database, build, report."""
    import django

    django.setup()
    from annotation.services.artifact_store import artifact_storage
    from exports.services.build import build_dataset

    rss_ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    dataset = build_dataset(dataset_id)
    seconds = time.perf_counter() - started
    assert dataset.status == "done", dataset.error
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = artifact_storage().size(dataset.file_path)
    print(json.dumps({"rows": dataset.rows, "seconds": seconds, "rss_ready_mb": rss_ready,
                      "peak_rss_mb": peak, "file_bytes": size}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument(
        "--file", type=Path, default=ROOT.parent / "shared/data/hh-rlhf-harmless-1300.jsonl"
    )
    parser.add_argument("--store", choices=("local", "s3"), default="local")
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build is not None:
        child_build(args.build)
        return
    if args.store == "s3":
        from tests.support import s3_server

        with s3_server.running_s3_server() as endpoint:
            os.environ.update(
                CONCORD_STORAGE="s3", CONCORD_S3_BUCKET=s3_server.BUCKET,
                CONCORD_S3_ENDPOINT_URL=endpoint, CONCORD_S3_REGION=s3_server.REGION,
                CONCORD_S3_ACCESS_KEY_ID=s3_server.ACCESS_KEY_ID,
                CONCORD_S3_SECRET_ACCESS_KEY=s3_server.SECRET_ACCESS_KEY,
                CONCORD_S3_PREFIX="bench-export",
            )  # fmt: skip
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    from fresh_database import setup_fresh_database

    setup_fresh_database("bench/export.py")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Criterion, Rubric, Sprint
    from exports.services.build import start_export

    source = [split_dialogue(r["chosen"], r["rejected"])
              for r in map(json.loads, args.file.open()) if r]  # fmt: skip
    rubric = Rubric.objects.create(name="bench")
    Criterion.objects.create(
        rubric=rubric, name="preference", kind="preference", question="Better?",
        config={"strength_labels": STRENGTH_LABELS},
    )  # fmt: skip
    lead = get_user_model().objects.create_superuser("bench", password="bench")
    small_sprint = Sprint.objects.create(name="small", slug="small", rubric=rubric)
    big_sprint = Sprint.objects.create(name="big", slug="big", rubric=rubric)
    small_pairs = max(args.pairs // 4, 1)
    print(f"filling {small_pairs} + {args.pairs} items with COPY", file=sys.stderr)
    started = time.perf_counter()
    next_id = fill(small_sprint, small_pairs, source, 1)
    fill(big_sprint, args.pairs, source, next_id)
    with connection.cursor() as cur:
        cur.execute("SELECT setval('annotation_item_id_seq', %s)", [next_id + args.pairs])
        cur.execute("VACUUM ANALYZE")
    fill_seconds = time.perf_counter() - started

    results = {}
    for name, sprint in (("small", small_sprint), ("big", big_sprint)):
        dataset = start_export(lead, {"sprints": [sprint.pk]}, enqueue_build=False)
        print(f"exporting {name} (dataset {dataset.pk}) in a child process", file=sys.stderr)
        results[name] = build_in_child(dataset.pk)
    if args.store == "s3":
        dataset = start_export(lead, {"sprints": [big_sprint.pk]}, enqueue_build=False)
        print(f"exporting big to the local store (dataset {dataset.pk})", file=sys.stderr)
        results["local"] = build_in_child(dataset.pk, CONCORD_STORAGE="local")
    big = results["big"]
    print("COPY baseline", file=sys.stderr)
    copy_path = Path(settings.DATA_DIR) / "bench-export.copy"
    copy_seconds, copy_rows = copy_baseline(big_sprint.pk, copy_path)
    assert copy_rows == big["rows"], (copy_rows, big["rows"])
    rows_per_s = big["rows"] / big["seconds"]
    copy_rows_per_s = copy_rows / copy_seconds
    figures = {
        "rows": big["rows"],
        "store": args.store,
        "rows_per_s": round(rows_per_s),
        "copy_rows_per_s": round(copy_rows_per_s),
        "ratio_to_copy": round(rows_per_s / copy_rows_per_s, 3),
        "peak_rss_mb": round(big["peak_rss_mb"], 1),
        "export_seconds": round(big["seconds"], 2),
        "copy_seconds": round(copy_seconds, 2),
        "file_mb": round(big["file_bytes"] / 1e6, 1),
        "copy_file_mb": round(copy_path.stat().st_size / 1e6, 1),
        "rss_ready_mb": round(big["rss_ready_mb"], 1),
        "small_rows": results["small"]["rows"],
        "small_rows_per_s": round(results["small"]["rows"] / results["small"]["seconds"]),
        "small_peak_rss_mb": round(results["small"]["peak_rss_mb"], 1),
        "fill_seconds": round(fill_seconds, 1),
    }
    if "local" in results:
        local_rows_per_s = results["local"]["rows"] / results["local"]["seconds"]
        figures.update(
            local_rows_per_s=round(local_rows_per_s),
            local_export_seconds=round(results["local"]["seconds"], 2),
            local_peak_rss_mb=round(results["local"]["peak_rss_mb"], 1),
            ratio_to_local=round(rows_per_s / local_rows_per_s, 3),
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
