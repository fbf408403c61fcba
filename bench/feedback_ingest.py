"""Feedback ingest throughput: N product events into PostgreSQL three ways in one run, beside
PostgreSQL's own ``COPY`` of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_feedback_bench \\
        .venv/bin/python bench/feedback_ingest.py --events 1000000

The database of DATABASE_URL is dropped, created and migrated. Events are HH-RLHF dialogues
(``--data``; read as a stream, again from the start when N is larger) made into feedback events
with signals (thumbs, stars, corrections, alternatives and picks, re-asks, escalations …) and,
in ``--pii-share`` of them, a PII sentence of every type in turn (``tests/feedback/
redaction_corpus.py``) injected into one text (``bench/feedback_events.py``). They are made one
at a time; no phase holds more than one batch. Phases, each on an emptied table, each sending
``--batch`` events at a time:

- ``copy`` (the baseline): psycopg ``COPY … FROM STDIN`` of the rows as ingest stores them (text
  already redacted, ids already hashed), one transaction a batch;
- ``service``: ``feedback.services.ingest.ingest_events`` with every detector on, in this process;
- ``http``: ``POST /api/v1/feedback/events`` with an ingest token to gunicorn (``--workers``
  sync workers on a loopback port) from ``--clients`` threads, orjson-encoded bodies.

Each phase's time includes making its events; ``generate_events_per_s`` is that alone. The
machine may be shared, so each phase also reports the CPU seconds it cost (``cpu_s``: the bench
process and its PostgreSQL backend; for http the client, the gunicorn workers and their
backends) and ``events_per_cpu_s``, which other load moves less than wall-clock time. Memory:
the bench process's RSS (service) and the gunicorn workers' summed RSS (http) after 10 %, 50 % and
100 % of the events, and the peak of a sampler every 0.2 s; memory is flat when the last sample
is within 10 % + 20 MB of the first. ``--repeat`` runs every phase that many times in rounds (the
load falls on every side) and reports medians. ``--profile FILE`` runs the service phase under
cProfile and prints where its time goes. The redaction corpus's recall per type and false
positive rate come from ``bench/redaction.py`` (``--no-quality`` skips them). Last line: one JSON
object.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import http.client
import itertools
import os
import pstats
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import psutil
from fresh_database import ROOT, setup_fresh_database

say = functools.partial(print, flush=True)
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-1300.jsonl"
GOAL_SERVICE, GOAL_RATIO, GOAL_HTTP = 5000, 0.25, 2000
MARKS = (0.1, 0.5, 1.0)


class Memory:
    """RSS of some processes: samples at marks, and the peak of a background sampler."""

    def __init__(self, processes: Callable[[], list[psutil.Process]]) -> None:
        self.processes, self.samples, self.peak = processes, {}, 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def rss_mb(self) -> float:
        total = 0
        for process in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total / 2**20

    def _sample(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, self.rss_mb())

    def mark(self, share: float) -> None:
        self.samples[f"{round(share * 100)}%"] = round(self.rss_mb(), 1)

    def __enter__(self) -> Memory:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = round(max([self.peak, *self.samples.values()]), 1)

    def flat(self) -> bool:
        values = list(self.samples.values())
        return values[-1] <= values[0] * 1.1 + 20


def batches(items: Iterator, size: int) -> Iterator[list]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def marks_of(n: int, size: int) -> dict[int, float]:
    """Batch number after which each mark (10 %, 50 %, 100 %) is reached."""
    count = -(-n // size)
    return {max(1, round(count * share)): share for share in MARKS}


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE feedback_productionpreference, feedback_feedbackevent CASCADE")
        cursor.execute("CHECKPOINT")


def new_source(slug: str):
    from feedback.models import FeedbackSource

    empty_tables()
    return FeedbackSource.objects.create(slug=slug, name=slug)


def outcome(seconds: float, source, memory: Memory, cpu: dict, **extra: int) -> dict:
    from feedback.models import FeedbackEvent

    return {
        "seconds": seconds,
        "stored": FeedbackEvent.objects.filter(source=source).count(),
        **extra,
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
        "rss_mb": memory.samples,
        "peak_rss_mb": memory.peak,
        "flat": memory.flat(),
    }


def cpu_of(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def database_backends(own: bool) -> list[psutil.Process]:
    """This process's PostgreSQL backend, or the others connected to the bench database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND (pid = pg_backend_pid()) = %s",
            [own],
        )
        return [psutil.Process(pid) for (pid,) in cursor.fetchall()]


class Cpu:
    """CPU seconds this process and its database backend spend from now on."""

    def __init__(self) -> None:
        self.processes = [psutil.Process(), *database_backends(own=True)]
        self.start = [cpu_of([p]) for p in self.processes]

    def spent(self) -> dict[str, float]:
        bench, db = (cpu_of([p]) - s for p, s in zip(self.processes, self.start, strict=True))
        return {"bench": bench, "db": db, "total": bench + db}


def run_copy(maker, n: int, size: int, slug: str) -> dict:
    from django.db import connection
    from django.utils import timezone

    from feedback.services.ingest import COLUMNS

    source = new_source(slug)
    now = timezone.now().isoformat()
    columns = ", ".join(COLUMNS)
    marks = marks_of(n, size)
    conn = connection.connection
    cpu = Cpu()
    with Memory(lambda: [psutil.Process()]) as memory:
        start = time.perf_counter()
        for number, chunk in enumerate(batches(maker.events(n), size), 1):
            with (
                conn.transaction(),
                conn.cursor() as cursor,
                cursor.copy(f"COPY feedback_feedbackevent ({columns}) FROM STDIN") as copy,
            ):
                for event, injected in chunk:
                    copy.write_row(maker.row(source.pk, slug, event, injected, now))
            if number in marks:
                memory.mark(marks[number])
        seconds = time.perf_counter() - start
    return outcome(seconds, source, memory, cpu.spent())


def run_service(maker, n: int, size: int, slug: str, profile: str | None) -> dict:
    from feedback.services.ingest import ingest_events

    source = new_source(slug)
    marks = marks_of(n, size)
    accepted = 0
    profiler = cProfile.Profile() if profile else None
    cpu = Cpu()
    with Memory(lambda: [psutil.Process()]) as memory:
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        for number, chunk in enumerate(batches(maker.events(n), size), 1):
            result = ingest_events(source, [event for event, _ in chunk])
            accepted += len(result.accepted)
            if number in marks:
                memory.mark(marks[number])
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
    if profiler:
        profiler.dump_stats(profile)
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
    return outcome(seconds, source, memory, cpu.spent(), accepted=accepted)


def run_http(maker, n: int, size: int, slug: str, args) -> dict:
    from django.contrib.auth import get_user_model
    from labeling_server import free_port, start_server, stop_server

    from feedback.services.ingest_tokens import issue_token

    source = new_source(slug)
    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_superuser": True, "is_staff": True}
    )
    key = issue_token(admin, f"bench {slug}", [source]).key
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
    port = free_port()
    os.environ["GUNICORN_CMD_ARGS"] = "--timeout 600"
    log = open(Path(os.environ["CONCORD_DATA_DIR"]) / f"gunicorn-{slug}.log", "w+")  # noqa: SIM115
    server = start_server(port, log, worker_class="sync", workers=args.workers, threads=1,
                          conn_max_age=600)  # fmt: skip
    try:
        wait_until_up(server, port, headers, log)
        master = psutil.Process(server.pid)
        marks = marks_of(n, size)
        feed = enumerate(batches(maker.events(n), size), 1)
        lock, tally, failures = threading.Lock(), {"accepted": 0}, []

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            while not failures:
                with lock:
                    number, chunk = next(feed, (0, None))
                if chunk is None:
                    return
                body = orjson.dumps({"events": [event for event, _ in chunk]})
                conn.request("POST", "/api/v1/feedback/events", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200:
                    failures.append(f"{response.status}: {answer[:300]!r}")
                    return
                with lock:
                    tally["accepted"] += len(orjson.loads(answer)["accepted"])
                    if number in marks:
                        memory.mark(marks[number])

        client_start = cpu_of([psutil.Process()])
        server_start = cpu_of(master.children(recursive=True))  # their boot is not the phase
        with Memory(lambda: master.children(recursive=True)) as memory:
            start = time.perf_counter()
            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - start
        cpu_spent = {
            "client": cpu_of([psutil.Process()]) - client_start,
            "gunicorn": cpu_of(master.children(recursive=True)) - server_start,
            "db": cpu_of(database_backends(own=False)),
        }
        cpu_spent["total"] = sum(cpu_spent.values())
        if failures:
            raise SystemExit(f"http phase failed: {failures[0]}")
    finally:
        stop_server(server)
        log.close()
    return outcome(seconds, source, memory, cpu_spent, accepted=tally["accepted"])


def wait_until_up(server, port: int, headers: dict, log) -> None:
    deadline = time.perf_counter() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("POST", "/api/v1/feedback/events", body=b'{"events": []}', headers=headers)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        if server.poll() is not None or time.perf_counter() > deadline:
            log.seek(0)
            raise SystemExit(f"server did not come up:\n{log.read()[-3000:]}")
        time.sleep(0.3)


def generate_rate(maker, n: int) -> float:
    start = time.perf_counter()
    for _ in maker.events(n):
        pass
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pii-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--phases", default="copy,service,http")
    parser.add_argument("--profile", help="run the service phase under cProfile into this file")
    parser.add_argument("--no-quality", action="store_true")
    args = parser.parse_args()

    setup_fresh_database("bench/feedback_ingest.py")
    from feedback_events import EventMaker

    maker = EventMaker(args.data, pii_share=args.pii_share, seed=args.seed)
    n, size, phases = args.events, args.batch, args.phases.split(",")
    generated = generate_rate(maker, min(n, 50_000))
    say(f"{n} events a phase, {size} a batch; making events alone: {generated:,.0f}/s")
    runs: dict[str, list[dict]] = {phase: [] for phase in phases}
    for round_number in range(args.repeat):
        for phase in phases:
            slug = f"bench-{phase}-{round_number}"
            if phase == "copy":
                run = run_copy(maker, n, size, slug)
            elif phase == "service":
                run = run_service(maker, n, size, slug, args.profile)
            else:
                run = run_http(maker, n, size, slug, args)
            run["events_per_s"] = round(n / run["seconds"])
            run["events_per_cpu_s"] = round(n / run["cpu_s"]["total"])
            runs[phase].append(run)
            say(f"[{round_number + 1}/{args.repeat}] {phase}: {run['events_per_s']:,}/s "
                f"({run['seconds']:.1f} s), CPU s {run['cpu_s']}, "
                f"{run['events_per_cpu_s']:,}/CPU-s, "
                f"stored {run['stored']}, RSS MB {run['rss_mb']}, "
                f"peak {run['peak_rss_mb']} MB, load {os.getloadavg()[0]:.2f}")  # fmt: skip
            if run["stored"] != n:
                raise SystemExit(f"{phase}: {run['stored']} of {n} events stored")

    rate = {p: statistics.median(r["events_per_s"] for r in runs[p]) for p in phases}
    report: dict = {
        "bench": "feedback_ingest", "events": n, "batch": size, "repeat": args.repeat,
        "data": args.data.name, "pii_share": args.pii_share, "workers": args.workers,
        "clients": args.clients, "cpus": os.cpu_count(),
        "generate_events_per_s": round(generated),
        "events_per_s": {p: round(v) for p, v in rate.items()},
        "runs_events_per_s": {p: [r["events_per_s"] for r in runs[p]] for p in phases},
        "events_per_cpu_s": {
            p: round(statistics.median(r["events_per_cpu_s"] for r in runs[p])) for p in phases
        },
        "cpu_s": {p: runs[p][-1]["cpu_s"] for p in phases},
        "rss_mb": {p: runs[p][-1]["rss_mb"] for p in phases},
        "peak_rss_mb": {p: max(r["peak_rss_mb"] for r in runs[p]) for p in phases},
        "memory_flat": {p: all(r["flat"] for r in runs[p]) for p in phases},
    }  # fmt: skip
    goals: dict = {}
    if "copy" in rate and "service" in rate:
        report["ratio_to_copy"] = round(rate["service"] / rate["copy"], 3)
        cpu_rate = report["events_per_cpu_s"]
        report["cpu_ratio_to_copy"] = round(cpu_rate["service"] / cpu_rate["copy"], 3)
        goals["service_ratio"] = report["ratio_to_copy"] >= GOAL_RATIO
    if "service" in rate:
        goals["service_rate"] = rate["service"] >= GOAL_SERVICE
    if "http" in rate:
        goals["http_rate"] = rate["http"] >= GOAL_HTTP
    goals["memory_flat"] = all(report["memory_flat"][p] for p in phases if p != "copy")
    report["goals"] = goals
    if not args.no_quality:
        from redaction import quality

        report["redaction"] = quality()
    report["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    say(orjson.dumps(report).decode())


if __name__ == "__main__":
    main()
