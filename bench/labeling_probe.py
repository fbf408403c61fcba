"""What one next + submit costs the server, measured in-process with nothing else running: SQL
statements and PostgreSQL round trips per request, and milliseconds of one uncontended pair.

The requests go through Django's test client, so they pass the same middleware, DRF
authentication and views as under gunicorn; before each one the probe calls
``close_old_connections`` as the ``request_started`` signal does under a real server (the test
client leaves that signal out), so the per-request connection health check is counted too.

Statements are what Django logs (``CaptureQueriesContext``: SELECT, INSERT, UPDATE, and the
BEGIN and COMMIT of each transaction). Round trips are every query message the client sent to
PostgreSQL, read from libpq's protocol trace: those statements plus what Django does not log,
such as the per-request connection health check's ``SELECT 1`` (``CONN_HEALTH_CHECKS``).
"""

import cProfile
import io
import os
import pstats
import tempfile
import time
from contextlib import contextmanager

from labeling_client import answers_for


@contextmanager
def protocol_trace():
    """Collect the frontend query messages sent on Django's PostgreSQL connection: yields a
    list that holds them once the block ends."""
    from django.db import connection
    from psycopg import pq

    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    sent: list[str] = []
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield sent
        finally:
            pgconn.untrace()
            trace.seek(0)
            for line in trace:
                parts = line.split("\t", 3)
                if len(parts) == 4 and parts[0] == "F" and parts[2] in ("Query", "Parse"):
                    sent.append(parts[3].strip())


class InProcessAnnotator:
    """An annotator whose requests go through Django in this process."""

    def __init__(self, sprint_id: int, token: str, seed: int = 1) -> None:
        import random

        from django.test import Client

        self.sprint_id = sprint_id
        self.client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
        self.rng = random.Random(seed)
        self.created = 0

    def _request(self, method: str, path: str, **kwargs):
        from django.db import close_old_connections

        close_old_connections()  # what request_started does under a real server
        return getattr(self.client, method)(path, **kwargs)

    def next(self):
        return self._request("get", f"/api/v1/sprints/{self.sprint_id}/next")

    def submit(self, served: dict):
        body = {
            "assignment": served["assignment"],
            "answers": answers_for(served["item"], self.rng),
            "seconds": 12.5,
        }
        response = self._request(
            "post",
            "/api/v1/judgments",
            data=body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=os.urandom(16).hex(),
        )
        if response.status_code != 201:
            raise RuntimeError(f"probe submit: {response.status_code} {response.content[:300]}")
        self.created += 1
        return response

    def pair(self) -> None:
        response = self.next()
        if response.status_code != 200:
            raise RuntimeError(f"probe next: {response.status_code} {response.content[:300]}")
        self.submit(response.json())


def probe(sprint_id: int, token: str, *, pairs: int = 200, profile_top: int = 0) -> dict:
    """Warm up, then count one pair's statements and round trips, then time ``pairs`` pairs
    one after another (optionally under cProfile, printing the ``profile_top`` functions with
    the most own time). Every pair is stored like any other; ``created`` says how many."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    annotator = InProcessAnnotator(sprint_id, token)
    for _ in range(5):  # caches, connection, first-use imports
        annotator.pair()

    counts: dict[str, dict] = {}
    served = None
    for name in ("next", "submit"):
        with CaptureQueriesContext(connection) as queries, protocol_trace() as sent:
            if name == "next":
                response = annotator.next()
                served = response.json()
            else:
                annotator.submit(served)
        counts[name] = {
            "statements": len(queries),
            "round_trips": len(sent),
            "sql": [q["sql"] for q in queries],
            "sent": sent,
        }

    profiler = cProfile.Profile() if profile_top else None
    start, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    for _ in range(pairs):
        annotator.pair()
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    report = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(profile_top)
        report = out.getvalue()
    return {
        "next": counts["next"],
        "submit": counts["submit"],
        "statements_per_pair": counts["next"]["statements"] + counts["submit"]["statements"],
        "round_trips_per_pair": counts["next"]["round_trips"] + counts["submit"]["round_trips"],
        "pair_ms_uncontended": round(elapsed / pairs * 1000, 2),
        # This process's CPU alone: the Python side of a pair, whatever else the machine runs.
        "pair_cpu_ms": round(cpu / pairs * 1000, 2),
        "created": annotator.created,
        "profile": report,
    }
