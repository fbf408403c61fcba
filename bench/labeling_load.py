"""Labeling under load: p50/p95 latency of next + submit and judgments per second, with N items
in PostgreSQL and M concurrent annotators talking HTTP to a real gunicorn server on loopback,
beside the stack's own floor (the same clients on a cheap authenticated GET) in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord_labeling_bench \\
        .venv/bin/python bench/labeling_load.py --items 1000000 --annotators 50 --seconds 60

Quick run: ``--items 20000 --seconds 10``. The database named in DATABASE_URL is dropped and
created afresh. Steps: migrate; a rubric (preference with a strength scale, plus a likert
criterion), an active sprint with overlap ``--k``, M annotators with API tokens and memberships;
N items with two responses each, filled with set-based SQL (``INSERT ... SELECT FROM
generate_series``), then ``VACUUM ANALYZE``; gunicorn (``concord.wsgi``, gthread,
``--server-workers`` x ``--server-threads``, persistent DB connections) on a free port.

Phases, all with M client threads on ``http.client`` (``--connections close``, the default: a
new connection per request, as nginx proxies by default; ``keepalive`` pins each client to the
gthread worker that accepted it, and the workers' shares come out uneven):

- ``floor`` (``--floor-seconds``): ``GET /api/v1/judgments`` -- HTTP + Django + DRF + token
  auth + a count of the caller's judgments, no queue: what a request costs at best here.
- warm-up (``--warmup-seconds``, not counted), then the measured phase (``--seconds``, or until
  ``--judgments`` judgments): each client loops ``GET /api/v1/sprints/{id}/next`` then ``POST
  /api/v1/judgments`` with valid answers and a fresh ``Idempotency-Key``, sleeping
  ``--think-ms`` between pairs (0, the default, is a closed loop: a saturation test, where by
  Little's law latency ~= annotators / throughput; a think time shows latency below saturation).

Any non-2xx answer or transport error counts in ``errors``; a valid run has none. Afterwards the
database is checked: no item with more than k live judgments or live assignments, no (item,
annotator) pair judged twice, and as many judgments stored as the clients were told were created.
Last line: one JSON object.
"""

import argparse
import functools
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
from fresh_database import setup_fresh_database

say = functools.partial(print, flush=True)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT = "The quick brown fox jumps over the lazy dog. " * 6  # ~270 characters of response text


def setup_sprint(args) -> tuple[int, list[str]]:
    """Rubric, active sprint, annotators with tokens and memberships: (sprint id, tokens)."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from annotation.models import Criterion, Rubric, Sprint, SprintMember, SprintStatus

    rubric = Rubric.objects.create(name="bench", guidelines="Prefer the more helpful answer.")
    scale = {"allow_tie": False, "strength_labels": ["slightly", "clearly", "much"]}
    for position, (name, kind, config) in enumerate(
        (("preference", "preference", scale), ("helpfulness", "likert", {"min": 1, "max": 5}))
    ):
        Criterion.objects.create(
            rubric=rubric,
            name=name,
            kind=kind,
            question=f"{name}?",
            position=position,
            config=config,
        )
    sprint = Sprint.objects.create(
        name="bench", slug="bench", rubric=rubric, overlap_k=args.k, status=SprintStatus.ACTIVE
    )
    users = User.objects.bulk_create(
        [User(username=f"annotator{i:03d}", password="!") for i in range(args.annotators)]
    )
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    SprintMember.objects.bulk_create(
        [SprintMember(sprint=sprint, user=u, pseudonym=f"A{i:03d}") for i, u in enumerate(users)]
    )
    return sprint.pk, [t.key for t in tokens]


def fill_items(sprint_id: int, items: int, chunk: int = 100_000) -> float:
    """N items with responses ``a`` and ``b``, chunk by chunk, in set-based SQL."""
    from django.db import connection, transaction

    start = time.perf_counter()
    with connection.cursor() as cursor:
        for low in range(1, items + 1, chunk):
            high = min(low + chunk - 1, items)
            with transaction.atomic():
                cursor.execute("SELECT coalesce(max(id), 0) FROM annotation_item")
                before = cursor.fetchone()[0]
                cursor.execute(
                    "INSERT INTO annotation_item (sprint_id, external_id, prompt, context,"
                    " metadata, source, stratum, is_gold, content_sha256, created_at)"
                    " SELECT %s, 'bench-' || g, to_jsonb('Question number ' || g || ': how do I'"
                    " || ' reset my password?'), '[]'::jsonb, jsonb_build_object('stratum', 's'"
                    " || g %% 10), 'bench', 's' || g %% 10, false,"
                    " md5(g::text) || md5('x' || g), now()"
                    " FROM generate_series(%s, %s) AS g ORDER BY g",
                    [sprint_id, low, high],
                )
                cursor.execute(
                    "INSERT INTO annotation_response (item_id, key, text, model_name,"
                    " model_version, metadata, position)"
                    " SELECT i.id, r.key, 'Answer ' || r.key || ' to item ' || i.id || '. ' || %s,"
                    " 'bot', r.version, '{}'::jsonb, r.position"
                    " FROM annotation_item i"
                    " CROSS JOIN (VALUES ('a', 'v3', 0), ('b', 'v4', 1))"
                    " AS r(key, version, position)"
                    " WHERE i.id > %s ORDER BY i.id, r.position",
                    [TEXT, before],
                )
            say(f"  fill: {high:,}/{items:,} items ({time.perf_counter() - start:.1f} s)")
        say("  VACUUM ANALYZE ...")
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, port: int, log) -> subprocess.Popen:
    env = {
        **os.environ,
        "ALLOWED_HOSTS": "127.0.0.1",
        "CONCORD_SSL_REDIRECT": "0",
        "CONCORD_SECURE_COOKIES": "0",
        "CONCORD_LOG_LEVEL": "WARNING",
        "CONCORD_DB_CONN_MAX_AGE": "600",
    }
    options = (
        f"--bind 127.0.0.1:{port} --worker-class gthread --workers {args.server_workers}"
        f" --threads {args.server_threads} --keep-alive 120 --backlog 2048 --log-level warning"
    )
    command = [sys.executable, "-m", "gunicorn", "concord.wsgi", *options.split()]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


class Client:
    """One annotator: its token and an HTTP connection, kept alive or new for each request."""

    def __init__(self, port: int, token: str, timeout: float, keepalive: bool = True) -> None:
        self.port, self.timeout, self.keepalive = port, timeout, keepalive
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        if not keepalive:
            self.headers["Connection"] = "close"
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict | None = None, key: str = ""):
        """(status, parsed JSON or None, seconds); status 0 on a transport error."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = key
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
            if not self.keepalive:
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return 0, None, time.perf_counter() - start
        seconds = time.perf_counter() - start
        parsed = json.loads(raw) if raw and 200 <= status < 300 else None
        return status, parsed, seconds


def answers_for(item: dict, rng: random.Random) -> dict:
    keys = [r["id"] for r in item["responses"]]
    rng.shuffle(keys)
    return {
        "preference": {"ranking": keys, "strength": rng.randint(1, 3)},
        "helpfulness": {k: rng.randint(1, 5) for k in keys},
    }


class Phase:
    """Shared clock and tallies of one load phase."""

    def __init__(self, warmup: float, seconds: float, judgments: int) -> None:
        self.lock = threading.Lock()
        self.begin = time.perf_counter() + warmup
        self.end = self.begin + seconds
        self.judgments_cap = judgments
        self.samples: list[tuple[float, float, float]] = []  # (start, first, second) seconds
        self.errors: Counter[str] = Counter()
        self.created = 0  # 201s seen, warm-up included, for the database check
        self.count = 0  # samples in the measured window
        self.stopped_at: float | None = None

    def running(self) -> bool:
        now = time.perf_counter()
        if now >= self.end:
            return False
        return not (self.judgments_cap and self.count >= self.judgments_cap)

    def record(self, start: float, first: float, second: float, created: bool) -> None:
        with self.lock:
            self.created += created
            self.samples.append((start, first, second))
            self.count += start >= self.begin

    def error(self, what: str, status: int) -> None:
        with self.lock:
            self.errors[f"{what} {status}"] += 1


def floor_loop(client: Client, phase: Phase, index: int) -> None:
    while phase.running():
        start = time.perf_counter()
        status, _, seconds = client.call("GET", "/api/v1/judgments?page_size=1")
        if status != 200:
            phase.error("floor", status)
            continue
        phase.record(start, seconds, 0.0, False)


def label_loop(client: Client, phase: Phase, sprint_id: int, think: float, seed: int) -> None:
    rng = random.Random(seed)
    while phase.running():
        start = time.perf_counter()
        status, served, next_s = client.call("GET", f"/api/v1/sprints/{sprint_id}/next")
        if status != 200:
            phase.error("next", status)
            time.sleep(0.05)
            continue
        body = {
            "assignment": served["assignment"],
            "answers": answers_for(served["item"], rng),
            "seconds": round(rng.uniform(5, 60), 1),
        }
        status, _, submit_s = client.call("POST", "/api/v1/judgments", body, uuid.uuid4().hex)
        if status != 201:
            phase.error("submit", status)
            continue
        phase.record(start, next_s, submit_s, True)
        if think:
            time.sleep(rng.expovariate(1 / think))


def run_phase(name: str, clients: list[Client], phase: Phase, work) -> Phase:
    """Run ``work(client, phase, index)`` on one thread per client until the phase ends."""
    threads = [
        threading.Thread(target=work, args=(c, phase, i), daemon=True)
        for i, c in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    last = time.perf_counter()
    while any(t.is_alive() for t in threads):
        time.sleep(0.25)
        now = time.perf_counter()
        if now - last >= 10:
            last = now
            state = "warm-up" if now < phase.begin else "measuring"
            say(f"  {name}: {state}, {phase.count:,} measured, errors {sum(phase.errors.values())}")
    phase.stopped_at = min(time.perf_counter(), phase.end)
    return phase


def summary(phase: Phase) -> dict:
    window = [s for s in phase.samples if s[0] >= phase.begin]
    duration = max(phase.stopped_at - phase.begin, 1e-9)
    first = np.array([s[1] for s in window]) * 1000
    second = np.array([s[2] for s in window]) * 1000
    pair = first + second

    def pct(values: np.ndarray, q: float) -> float:
        return round(float(np.percentile(values, q)), 2) if len(values) else float("nan")

    out = {"count": len(window), "per_s": round(len(window) / duration, 1)}
    out |= {"duration_s": round(duration, 1), "errors": sum(phase.errors.values())}
    out |= {f"p{q}": pct(pair, q) for q in (50, 95, 99)}
    out |= {f"first_p{q}": pct(first, q) for q in (50, 95)}
    return out | {f"second_p{q}": pct(second, q) for q in (50, 95)}


def verify(sprint_id: int, k: int) -> dict:
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


def wait_until_up(server: subprocess.Popen, port: int, token: str, log) -> None:
    probe = Client(port, token, 5)
    deadline = time.perf_counter() + 60
    while probe.call("GET", "/api/v1/judgments?page_size=1")[0] != 200:
        if server.poll() is not None or time.perf_counter() > deadline:
            log.seek(0)
            sys.exit(f"server did not come up:\n{log.read()[-3000:]}")
        time.sleep(0.2)


def load(args, port: int, tokens: list[str], sprint_id: int):
    """Floor phase, then labeling phase: (floor, labeling phase, its summary, client CPU s)."""
    clients = [Client(port, t, args.timeout, args.connections == "keepalive") for t in tokens]
    say(f"floor: {len(clients)} clients on GET /api/v1/judgments for {args.floor_seconds:g} s ...")
    floor = summary(run_phase("floor", clients, Phase(1.0, args.floor_seconds, 0), floor_loop))
    say(
        f"floor: p50 {floor['p50']} ms, p95 {floor['p95']} ms, "
        f"{floor['per_s']:,.0f} requests/s, errors {floor['errors']}"
    )

    say(
        f"labeling: {len(clients)} annotators, next + submit, warm-up "
        f"{args.warmup_seconds:g} s, then {args.seconds:g} s ..."
    )
    cpu = time.process_time()
    phase = run_phase(
        "labeling",
        clients,
        Phase(args.warmup_seconds, args.seconds, args.judgments),
        lambda c, p, i: label_loop(c, p, sprint_id, args.think_ms / 1000, i),
    )
    client_cpu = time.process_time() - cpu
    label = summary(phase)
    say(
        f"labeling: pair p50 {label['p50']} ms, p95 {label['p95']} ms, p99 {label['p99']} "
        f"ms; next p95 {label['first_p95']} ms, submit p95 {label['second_p95']} ms; "
        f"{label['per_s']:,.1f} judgments/s; errors {label['errors']} {phase.errors}"
    )
    return floor, phase, label, client_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for flag, kind, default, help_text in (
        ("--items", int, 1_000_000, "items in the sprint"),
        ("--annotators", int, 50, "concurrent annotators (client threads)"),
        ("--k", int, 3, "the sprint's overlap: annotators per item"),
        ("--seconds", float, 60.0, "length of the measured phase"),
        ("--judgments", int, 0, "end the measured phase after this many (0: --seconds only)"),
        ("--warmup-seconds", float, 5.0, "labeling before the measured phase, not counted"),
        ("--floor-seconds", float, 15.0, "length of the floor phase"),
        ("--think-ms", float, 0.0, "mean think time between an annotator's pairs"),
        ("--server-workers", int, 2, "gunicorn worker processes"),
        ("--server-threads", int, 8, "gunicorn threads per worker"),
        ("--timeout", float, 30.0, "per request, seconds"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=help_text)
    parser.add_argument(
        "--connections",
        choices=["close", "keepalive"],
        default="close",
        help="close (default): a new connection per request, as nginx proxies by default; "
        "keepalive: one per client, which gthread pins to one worker (uneven shares)",
    )
    args = parser.parse_args()

    say("recreating the database of DATABASE_URL and migrating ...")
    setup_fresh_database("bench/labeling_load.py")
    from django.db import connection

    sprint_id, tokens = setup_sprint(args)
    say(
        f"sprint {sprint_id}: k={args.k}, {len(tokens)} annotators; filling "
        f"{args.items:,} items ..."
    )
    fill_seconds = fill_items(sprint_id, args.items)
    say(f"fill: {args.items:,} items + {2 * args.items:,} responses in {fill_seconds:.1f} s")
    connection.close()  # the server's connections should be the only busy ones

    port = free_port()
    server_name = f"gunicorn gthread {args.server_workers}x{args.server_threads}"
    with tempfile.NamedTemporaryFile("w+", prefix="concord-gunicorn-", suffix=".log") as log:
        server = start_server(args, port, log)
        try:
            wait_until_up(server, port, tokens[0], log)
            say(f"server: {server_name} on 127.0.0.1:{port}")
            floor, phase, label, client_cpu = load(args, port, tokens, sprint_id)
        finally:
            stop_server(server)
            log.seek(0)
            tail = log.read()[-3000:]
            if tail.strip():
                say(f"server log tail:\n{tail}")

    checks = verify(sprint_id, args.k)
    ok = (
        checks["items_over_k"] == 0
        and checks["repeated_pairs"] == 0
        and checks["items_over_k_assignments"] == 0
        and checks["judgments"] == phase.created
    )
    say(f"check: {checks}, clients saw {phase.created} created -> {'ok' if ok else 'FAILED'}")
    names = {"p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms", "per_s": "judgments_per_s"}
    names |= {"count": "judgments", "duration_s": "duration_s"}
    names |= {f"first_p{q}": f"next_p{q}_ms" for q in (50, 95)}
    names |= {f"second_p{q}": f"submit_p{q}_ms" for q in (50, 95)}
    result = {"items": args.items, "annotators": args.annotators, "k": args.k}
    result |= {new: label[old] for old, new in names.items()}
    result |= {
        "errors": label["errors"] + floor["errors"],
        "floor_p50_ms": floor["p50"],
        "floor_p95_ms": floor["p95"],
        "floor_requests_per_s": floor["per_s"],
        "p95_to_floor": round(label["p95"] / floor["p95"], 2) if floor["p95"] else None,
        "think_ms": args.think_ms,
        "connections": args.connections,
        "server": server_name,
        "fill_s": round(fill_seconds, 1),
        "client_cpu_s": round(client_cpu, 1),
        "checks_ok": ok,
        "cpus": os.cpu_count(),
    }
    say(json.dumps(result))
    if not ok or label["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
