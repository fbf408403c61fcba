"""Labeling under load: p50/p95/p99 latency of next + submit and judgments per second, with N
items in PostgreSQL and M concurrent annotators talking HTTP to a real gunicorn server on
loopback, beside the stack's own floor (the same clients on a cheap authenticated GET) and an
in-process probe of what one pair costs (SQL statements, round trips, uncontended ms).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord_labeling_bench \\
        .venv/bin/python bench/labeling_load.py --items 1000000 --annotators 50 --seconds 60

Quick run: ``--items 100000 --seconds 20``. The database named in DATABASE_URL is dropped and
created afresh; the data is made by ``labeling_fill`` (a rubric with a preference and a likert
criterion, an active sprint with overlap ``--k``, M annotators with API tokens, N items with two
responses each, then ``VACUUM ANALYZE``). The server is ``labeling_server``: gunicorn with
``--worker-class``, ``--server-workers`` x ``--server-threads`` (default gthread 2 x 8: on 2
cores, threads let a process run Python while its other requests wait on PostgreSQL, and more
transactions in flight share each WAL flush) and persistent connections. The clients are
``labeling_client``: one thread per annotator on ``http.client``; ``--connections close``, the
default, opens a new connection per request, as nginx proxies by default.

Phases:

- probe (``labeling_probe``): one next + submit in-process, its statements and round trips
  counted, then ``--probe-pairs`` pairs timed one after another (``--profile N`` prints the N
  functions with the most own time under cProfile, ``--show-sql`` the statements).
- ``floor`` (``--floor-seconds``): ``GET /api/v1/judgments`` -- HTTP + Django + DRF + token
  auth + a count of the caller's judgments, no queue: what a request costs at best here.
- one labeling run per value of ``--think-ms`` (default ``0,2000``): a warm-up
  (``--warmup-seconds``, not counted), then ``--seconds`` (or ``--judgments``) of each client
  looping ``GET /api/v1/sprints/{id}/next`` then ``POST /api/v1/judgments`` with valid answers
  and a fresh ``Idempotency-Key``, then pausing for an exponential think time of that mean.
  0 is a closed loop, a saturation test: every client always waiting on the server, so by
  Little's law latency ~= annotators / throughput, and the run measures capacity. A think time
  paces the clients like people (real annotators take tens of seconds per item; 2 s is ten
  times faster than a quick one) and measures the latency they feel below saturation.

Side effects of a submit run as in a deployment: a judgment's on-commit hooks (the reviews app
enqueues a review of the item) publish to the broker of ``CELERY_BROKER_URL`` (the embedded
filesystem broker under the bench's temporary data folder when unset; key ``broker``). No
worker runs here, so the figures hold the publishing, not the review work itself.

Any non-2xx answer or transport error counts in ``errors``; a valid run has none. Afterwards the
database is checked: no item with more than k live judgments or live assignments, no (item,
annotator) pair judged twice, and as many judgments stored as the clients were told were created.
Last line: one JSON object; its top-level latency keys are those of the last (paced) run, and
``saturated_*`` keys those of the run without think time.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from fresh_database import setup_fresh_database
from labeling_client import Client, Phase, floor_loop, label_loop, run_phase, say, summary
from labeling_fill import fill_items, setup_sprint
from labeling_probe import probe
from labeling_server import free_port, server_name, start_server, stop_server, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def verify(sprint_id: int, k: int) -> dict:
    """The sprint's invariants, counted in the database."""
    from django.db import connection

    live = (
        "SELECT j.item_id, j.annotator_id FROM annotation_judgment j WHERE j.sprint_id = %s"
        " AND NOT EXISTS (SELECT 1 FROM annotation_judgment s WHERE s.supersedes_id = j.id)"
    )
    leased = "SELECT item_id FROM annotation_assignment WHERE sprint_id = %s AND status IN"
    over = f"GROUP BY 1 HAVING count(*) > {int(k)}"
    queries = {
        "judgments": f"SELECT count(*) FROM ({live}) AS t",
        "items_over_k": f"SELECT count(*) FROM (SELECT item_id FROM ({live}) AS l {over}) AS t",
        "repeated_pairs": f"SELECT count(*) FROM ({live} GROUP BY 1, 2 HAVING count(*) > 1) AS t",
        "items_over_k_assignments": f"SELECT count(*) FROM ({leased} ('leased', 'submitted')"
        f" {over}) AS t",
    }
    out = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql, [sprint_id])
            out[name] = cursor.fetchone()[0]
    return out


def run_probe(args, sprint_id: int, token: str) -> dict:
    say(f"probe: one next + submit in-process, then {args.probe_pairs} pairs timed ...")
    found = probe(sprint_id, token, pairs=args.probe_pairs, profile_top=args.profile)
    for name in ("next", "submit"):
        say(
            f"probe: {name}: {found[name]['statements']} statements, "
            f"{found[name]['round_trips']} round trips"
        )
        if args.show_sql:
            for sql in found[name]["sent"]:
                say(f"    {sql[:300]}")
    say(
        f"probe: {found['pair_ms_uncontended']} ms per pair, uncontended "
        f"({found['pair_cpu_ms']} ms of it this process's CPU)"
    )
    if found["profile"]:
        say(found["profile"])
    return found


def labeling_run(args, clients: list[Client], sprint_id: int, think_ms: float) -> tuple:
    say(
        f"labeling: {len(clients)} annotators, think {think_ms:g} ms, warm-up "
        f"{args.warmup_seconds:g} s, then {args.seconds:g} s ..."
    )
    cpu = time.process_time()
    phase = run_phase(
        "labeling",
        clients,
        Phase(args.warmup_seconds, args.seconds, args.judgments),
        lambda c, p, i: label_loop(c, p, sprint_id, think_ms / 1000, i),
    )
    label = summary(phase) | {"think_ms": think_ms, "client_cpu_s": time.process_time() - cpu}
    say(
        f"labeling: pair p50 {label['p50']} ms, p95 {label['p95']} ms, p99 {label['p99']} "
        f"ms; next p95 {label['first_p95']} ms, submit p95 {label['second_p95']} ms; "
        f"{label['per_s']:,.1f} judgments/s; errors {label['errors']} {dict(phase.errors)}"
    )
    return phase, label


RUN_KEYS = {"p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms", "per_s": "judgments_per_s"}
RUN_KEYS |= {"count": "judgments", "duration_s": "duration_s", "errors": "errors"}
RUN_KEYS |= {f"first_p{q}": f"next_p{q}_ms" for q in (50, 95, 99)}
RUN_KEYS |= {f"second_p{q}": f"submit_p{q}_ms" for q in (50, 95, 99)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for flag, kind, default, help_text in (
        ("--items", int, 1_000_000, "items in the sprint"),
        ("--annotators", int, 50, "concurrent annotators (client threads)"),
        ("--k", int, 3, "the sprint's overlap: annotators per item"),
        ("--seconds", float, 60.0, "length of each measured labeling run"),
        ("--judgments", int, 0, "end a measured run after this many (0: --seconds only)"),
        ("--warmup-seconds", float, 5.0, "labeling before each measured run, not counted"),
        ("--floor-seconds", float, 15.0, "length of the floor phase"),
        ("--think-ms", str, "0,2000", "mean think times (ms) between pairs, one run each"),
        ("--worker-class", str, "gthread", "gunicorn worker class: gthread or sync"),
        ("--server-workers", int, 2, "gunicorn worker processes"),
        ("--server-threads", int, 8, "gunicorn threads per worker (gthread)"),
        ("--conn-max-age", int, 600, "CONCORD_DB_CONN_MAX_AGE for the server, seconds"),
        ("--timeout", float, 30.0, "per request, seconds"),
        ("--probe-pairs", int, 200, "pairs the in-process probe times"),
        ("--profile", int, 0, "print this many functions of a cProfile of the probe (0: none)"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=help_text)
    parser.add_argument("--show-sql", action="store_true", help="print the probe's statements")
    parser.add_argument(
        "--connections",
        choices=["close", "keepalive"],
        default="close",
        help="close (default): a new connection per request, as nginx proxies by default; "
        "keepalive: one per client, which gthread pins to one worker (uneven shares)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    thinks = [float(t) for t in args.think_ms.split(",") if t.strip()]
    # The probe's in-process requests see the same settings as the server.
    os.environ.update(CONCORD_SSL_REDIRECT="0", CONCORD_SECURE_COOKIES="0")
    os.environ["CONCORD_DB_CONN_MAX_AGE"] = str(args.conn_max_age)
    say("recreating the database of DATABASE_URL and migrating ...")
    setup_fresh_database("bench/labeling_load.py")
    from django.db import connection

    bench = setup_sprint(args.annotators, args.k)
    say(f"sprint {bench.sprint_id}: k={args.k}, {args.annotators} annotators; filling ...")
    fill_seconds = fill_items(bench.sprint_id, args.items)
    say(f"fill: {args.items:,} items + {2 * args.items:,} responses in {fill_seconds:.1f} s")
    found = run_probe(args, bench.sprint_id, bench.probe_token)
    connection.close()  # the server's connections should be the only busy ones

    port = free_port()
    server = server_name(args.worker_class, args.server_workers, args.server_threads)
    runs, created = [], found["created"]
    with tempfile.NamedTemporaryFile("w+", prefix="concord-gunicorn-", suffix=".log") as log:
        process = start_server(
            port,
            log,
            worker_class=args.worker_class,
            workers=args.server_workers,
            threads=args.server_threads,
            conn_max_age=args.conn_max_age,
        )
        try:
            wait_until_up(process, port, bench.tokens[0], log)
            say(f"server: {server} on 127.0.0.1:{port}")
            keepalive = args.connections == "keepalive"
            clients = [Client(port, t, args.timeout, keepalive) for t in bench.tokens]
            say(f"floor: {len(clients)} clients on GET /api/v1/judgments ...")
            floor = summary(
                run_phase("floor", clients, Phase(1.0, args.floor_seconds, 0), floor_loop)
            )
            say(f"floor: p50 {floor['p50']} ms, p95 {floor['p95']} ms, {floor['per_s']:,.0f}/s")
            for think in thinks:
                phase, label = labeling_run(args, clients, bench.sprint_id, think)
                created += phase.created
                runs.append(label)
        finally:
            stop_server(process)
            log.seek(0)
            tail = log.read()[-3000:]
            if tail.strip():
                say(f"server log tail:\n{tail}")

    checks = verify(bench.sprint_id, args.k)
    ok = (
        checks["items_over_k"] == 0
        and checks["repeated_pairs"] == 0
        and checks["items_over_k_assignments"] == 0
        and checks["judgments"] == created
    )
    say(f"check: {checks}, clients saw {created} created -> {'ok' if ok else 'FAILED'}")
    shaped = [
        {"think_ms": r["think_ms"], **{new: r[old] for old, new in RUN_KEYS.items()}}
        | {"client_cpu_s": round(r["client_cpu_s"], 1)}
        for r in runs
    ]
    result = {"items": args.items, "annotators": args.annotators, "k": args.k, **shaped[-1]}
    saturated = next((r for r in shaped if r["think_ms"] == 0), None)
    if saturated:
        result |= {f"saturated_{key}": saturated[key] for key in RUN_KEYS.values()}
    result |= {
        "errors": sum(r["errors"] for r in runs) + floor["errors"],
        "statements_per_pair": found["statements_per_pair"],
        "round_trips_per_pair": found["round_trips_per_pair"],
        "next_statements": found["next"]["statements"],
        "submit_statements": found["submit"]["statements"],
        "pair_ms_uncontended": found["pair_ms_uncontended"],
        "pair_cpu_ms": found["pair_cpu_ms"],
        "floor_p50_ms": floor["p50"],
        "floor_p95_ms": floor["p95"],
        "floor_requests_per_s": floor["per_s"],
        "connections": args.connections,
        "server": server,
        "broker": os.environ.get("CELERY_BROKER_URL", "filesystem://").split(":", 1)[0],
        "fill_s": round(fill_seconds, 1),
        "checks_ok": ok,
        "cpus": os.cpu_count(),
        "runs": shaped,
    }
    say(json.dumps(result))
    if not ok or result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
