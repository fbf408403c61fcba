"""The labeling bench's simulated annotators: one thread per annotator on ``http.client``, a
shared clock and tallies per phase, and the latency summary (p50/p95/p99 of next + submit)."""

import functools
import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter

import numpy as np

say = functools.partial(print, flush=True)


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
    """Valid answers for a served item: a random ranking and strength, a score per response.
    Each pair is answered from its own item, so nothing is reused across annotators."""
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
    """The stack's floor: a cheap authenticated GET, as fast as the server answers."""
    while phase.running():
        start = time.perf_counter()
        status, _, seconds = client.call("GET", "/api/v1/judgments?page_size=1")
        if status != 200:
            phase.error("floor", status)
            continue
        phase.record(start, seconds, 0.0, False)


def label_loop(client: Client, phase: Phase, sprint_id: int, think: float, seed: int) -> None:
    """One annotator: next, then submit valid answers with a fresh key, then think (an
    exponential pause of mean ``think`` seconds; 0 is a closed loop)."""
    rng = random.Random(seed)
    if think:  # annotators do not all start at once
        time.sleep(rng.uniform(0, think))
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
    """Counts, rate and percentiles (ms) of the pair and of each of its two requests, over the
    samples that started inside the measured window."""
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
    out |= {f"first_p{q}": pct(first, q) for q in (50, 95, 99)}
    return out | {f"second_p{q}": pct(second, q) for q in (50, 95, 99)}
