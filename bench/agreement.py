"""Agreement report time: ``sprint_agreement`` end to end (default 1000-resample bootstrap) for a
sprint of N items x 5 annotators read from PostgreSQL, beside baselines measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_agree_bench \\
        .venv/bin/python bench/agreement.py --items 100000

The database named in DATABASE_URL is dropped and created afresh, then filled with COPY: items of
two responses, 5 annotators of known accuracy answering a preference (with tie and strength), two
Likert scores and a flag, noisily around a hidden truth; each judgment with the agreement record
``submit_judgment`` stores with it (:mod:`annotation.services.agreement_codes`), which the report
reads. With ``--reuse``, a database that an earlier run filled with the same ``--items`` and
``--seed`` is measured as it is (the fill takes minutes; what is measured is the same either
way, except that a database filled before records were written has none: its report reads the
JSON answers, as before).

Figures (last line, one JSON object): ``seconds`` (the report, end to end, median of
``--repeat`` runs), ``db_seconds`` (the report's own statements, their COPY run bare and the
bytes received, not parsed: what the database and the wire cost) and ``db_share``,
``fetch_seconds`` (the same statements parsed into arrays, as the report reads them); baselines:
``serial_fetch_seconds`` (that read with PostgreSQL's default costs, which plan it on one core),
``bare_select_seconds`` (SELECT of the live judgments' whole JSON answers, what a plain
``values_list("answers")`` reader would start from), ``no_bootstrap_seconds`` (the report with
bootstrap=0), ``krippendorff_seconds`` (krippendorff.alpha alone on count matrices prepared
beforehand, every criterion, no bootstrap), ``baseline_seconds`` (bare select + krippendorff)
and ``ratio`` (``seconds / baseline_seconds``; the goal is at most ``goal_ratio``). Every
measurement runs ``--repeat`` times in rounds, one of each per round with the report and its two
baselines back to back, so that a change in the machine's load falls on both sides of the ratio;
``round_ratios`` are each round's report over its own baseline, ``report_runs`` and
``baseline_runs`` the seconds behind them. ``cpu`` gives the CPU seconds of the report and of
the baselines' parts (client, database backend, total; medians of ``--repeat`` more rounds with
parallel workers off, so the backend does all of the database's work) and ``cpu_ratio`` the
report's total over the baseline's, which the machine's load moves less than wall-clock time;
``loadavg`` is the load when the figures were printed. With ``--json-report``, the report read
from the JSON answers (as before records) is timed too (``json_report_seconds``), and
``same_as_json`` says whether both reports are equal.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from fresh_database import setup_fresh_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCURACY = [0.92, 0.88, 0.85, 0.8, 0.65]


def sprint_name(items: int, seed: int) -> str:
    return f"bench {items} x {len(ACCURACY)} seed {seed}"


def fill(items: int, seed: int):
    """A sprint of ``items`` items x len(ACCURACY) annotators, all judged; returns the sprint."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Criterion, Rubric, Sprint, SprintMember
    from annotation.services.agreement_codes import encode

    rubric = Rubric.objects.create(name="bench agreement")
    Criterion.objects.create(
        rubric=rubric,
        name="preference",
        kind="preference",
        question="Better?",
        config={"allow_tie": True, "strength_labels": ["slightly", "clearly", "much"]},
    )
    for position, name in enumerate(["helpfulness", "accuracy"], start=1):
        Criterion.objects.create(
            rubric=rubric,
            name=name,
            kind="likert",
            question=name,
            config={"min": 1, "max": 5},
            position=position,
        )
    Criterion.objects.create(
        rubric=rubric, name="unsafe", kind="flag", question="Unsafe?", required=False, position=3
    )
    sprint = Sprint.objects.create(
        name=sprint_name(items, seed),
        slug="bench",
        rubric=rubric,
        status="active",
        overlap_k=len(ACCURACY),
    )
    users = [
        get_user_model().objects.create_user(username=f"annotator-{n}", password="x")
        for n in range(len(ACCURACY))
    ]
    for n, user in enumerate(users):
        SprintMember.objects.create(sprint=sprint, user=user, pseudonym=f"A{n}")
    criteria = list(Criterion.objects.filter(rubric=rubric))
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cur = cursor.cursor
        with cur.copy(
            "COPY annotation_item (sprint_id, external_id, prompt, context, metadata, source,"
            " stratum, is_gold, content_sha256, created_at) FROM STDIN"
        ) as copy:
            for n in range(items):
                copy.write_row(
                    (
                        sprint.pk,
                        f"x-{n}",
                        json.dumps(f"q{n}"),
                        "[]",
                        "{}",
                        "",
                        "",
                        False,
                        f"{n:064d}",
                        now,
                    )
                )
        cur.execute("SELECT id FROM annotation_item WHERE sprint_id = %s ORDER BY id", [sprint.pk])
        item_ids = [row[0] for row in cur.fetchall()]
        with cur.copy(
            "COPY annotation_response (item_id, key, text, model_name, model_version, metadata,"
            " position) FROM STDIN"
        ) as copy:
            for item_id in item_ids:
                copy.write_row((item_id, "a", "answer a", "", "", "{}", 0))
                copy.write_row((item_id, "b", "answer b", "", "", "{}", 1))
        with cur.copy(
            "COPY annotation_assignment (sprint_id, item_id, annotator_id, status, leased_at,"
            " lease_expires_at, skip_reason) FROM STDIN"
        ) as copy:
            for item_id in item_ids:
                for user in users:
                    copy.write_row(
                        (sprint.pk, item_id, user.pk, "submitted", now, now + timedelta(1), "")
                    )
        cur.execute(
            "SELECT item_id, annotator_id, id FROM annotation_assignment WHERE sprint_id = %s",
            [sprint.pk],
        )
        assignment = {(i, a): pk for i, a, pk in cur.fetchall()}
        truth_a_wins = rng.random(items) < 0.5
        truth_strength = rng.integers(1, 4, items)
        truth_scores = rng.integers(1, 6, (items, 2, 2))
        truth_unsafe = rng.random((items, 2)) < 0.05
        with cur.copy(
            "COPY annotation_judgment (sprint_id, item_id, assignment_id, annotator_id,"
            " rubric_id, answers, seconds, idempotency_key, request_sha256, created_at,"
            " agreement_codes) FROM STDIN"
        ) as copy:
            for n, item_id in enumerate(item_ids):
                for a, (user, accuracy) in enumerate(zip(users, ACCURACY, strict=True)):
                    draw = rng.random(6)
                    if draw[0] < 0.03:
                        preference = {"tie": True}
                    else:
                        a_wins = truth_a_wins[n] == (draw[1] < accuracy)
                        strength = int(
                            np.clip(
                                truth_strength[n] + (draw[2] > accuracy) * rng.choice([-1, 1]), 1, 3
                            )
                        )
                        preference = {
                            "ranking": ["a", "b"] if a_wins else ["b", "a"],
                            "strength": strength,
                        }
                    noise = (rng.random((2, 2)) > accuracy) * rng.choice([-1, 1], (2, 2))
                    scores = np.clip(truth_scores[n] + noise, 1, 5)
                    answers = {
                        "preference": preference,
                        "helpfulness": {"a": int(scores[0, 0]), "b": int(scores[1, 0])},
                        "accuracy": {"a": int(scores[0, 1]), "b": int(scores[1, 1])},
                    }
                    flags = truth_unsafe[n] ^ (draw[3:5] > accuracy + 0.05)
                    if flags.any():
                        answers["unsafe"] = {"a": bool(flags[0]), "b": bool(flags[1])}
                    seconds = float(5 + 60 * draw[5])
                    # The agreement record submit_judgment stores with the judgment.
                    record = encode(
                        criteria,
                        ["a", "b"],
                        answers,
                        item_id=item_id,
                        annotator_id=user.pk,
                        seconds=seconds,
                    )
                    copy.write_row(
                        (
                            sprint.pk,
                            item_id,
                            assignment[(item_id, user.pk)],
                            user.pk,
                            rubric.pk,
                            json.dumps(answers),
                            seconds,
                            f"k-{item_id}-{a}",
                            "",
                            now,
                            record,
                        )
                    )
        cur.execute("ANALYZE")
    return sprint


def reference_counts(units: np.ndarray, values: np.ndarray, n_values: int) -> np.ndarray:
    """The unit-by-value count matrix of the units with two answers or more, rows in unit
    order, written plainly: the report's alpha is checked against krippendorff on these."""
    distinct, codes = np.unique(units, return_inverse=True)
    counts = np.zeros((len(distinct), n_values), dtype=np.int64)
    np.add.at(counts, (codes, values), 1)
    return counts[counts.sum(axis=1) >= 2]


def rounds(runs: dict, repeat: int) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Each of ``runs`` timed ``repeat`` times, in rounds (one of each per round, in order);
    the seconds of every run by name, and each one's last result."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, object] = {}
    for number in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
        print(
            f"round {number + 1}: "
            + ", ".join(f"{name} {values[-1]:.3f} s" for name, values in times.items()),
            flush=True,
        )
    return times, results


def json_report(sprint, bootstrap: int) -> dict:
    """The report read from the JSON answers, as before agreement records (the oracle path)."""
    import functools

    from reviews.services import agreement_units
    from reviews.services.agreement import sprint_agreement

    original = agreement_units.read_rows
    agreement_units.read_rows = functools.partial(original, codes=False)
    try:
        return sprint_agreement(sprint, bootstrap=bootstrap)
    finally:
        agreement_units.read_rows = original


def backend_cpu() -> float:
    """CPU seconds this session's PostgreSQL backend has used (it must run on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_rounds(runs: dict, repeat: int) -> dict[str, dict[str, float]]:
    """CPU seconds of each of ``runs`` (medians of ``repeat`` rounds): ``client`` (this
    process), ``database`` (the backend) and ``total``. Parallel workers are turned off for
    the session meanwhile, so that the backend does all of the database's work; CPU time moves
    less with the machine's load than wall-clock time does."""
    from django.db import connection

    spent: dict[str, dict[str, list[float]]] = {
        name: {"client": [], "database": []} for name in runs
    }
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    try:
        for _ in range(repeat):
            for name, run in runs.items():
                client, database = time.process_time(), backend_cpu()
                run()
                spent[name]["client"].append(time.process_time() - client)
                spent[name]["database"].append(backend_cpu() - database)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET max_parallel_workers_per_gather")
    figures = {}
    for name, parts in spent.items():
        totals = [c + d for c, d in zip(parts["client"], parts["database"], strict=True)]
        figures[name] = {
            "client": round(statistics.median(parts["client"]), 3),
            "database": round(statistics.median(parts["database"]), 3),
            "total": round(statistics.median(totals), 3),
        }
    print("cpu: " + json.dumps(figures), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json-report",
        action="store_true",
        help="also time the report read from the JSON answers (as before agreement records)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database when an earlier run filled it with these --items and --seed",
    )
    args = parser.parse_args()

    setup_fresh_database("bench/agreement.py", keep=args.reuse)
    import krippendorff
    from django.db import connection

    from annotation.models import Judgment, Sprint
    from reviews.services.agreement import sprint_agreement
    from reviews.services.agreement_rows import live_judgments, read_rows
    from reviews.services.agreement_sql import copy_bytes, copy_out
    from reviews.services.agreement_units import load_judgments

    sprint = Sprint.objects.filter(name=sprint_name(args.items, args.seed)).first()
    if sprint is not None and Judgment.objects.filter(sprint=sprint).count() == args.items * len(
        ACCURACY
    ):
        print(f"reusing the filled database ({args.items:,} items)", flush=True)
        if Judgment.objects.filter(sprint=sprint, agreement_codes__isnull=True).exists():
            print("its judgments have no agreement records: the report reads JSON", flush=True)
    else:
        if args.reuse:
            connection.close()
            setup_fresh_database("bench/agreement.py")
        print(f"filling {args.items:,} items x {len(ACCURACY)} annotators ...", flush=True)
        start = time.perf_counter()
        sprint = fill(args.items, args.seed)
        print(f"filled in {time.perf_counter() - start:.1f} s", flush=True)

    # The report's own statements, their COPY run bare (bytes only, not parsed): what the
    # database and the wire cost; then the same parsed into arrays.
    loaded = load_judgments(sprint)
    statements = []
    read_rows(sprint, ran=statements)

    def bare_copy() -> int:
        total = 0
        for sql, params, names in statements:
            if names == ["codes"]:  # the agreement records' statement, read as the report does
                total += len(copy_out(connection, sql, params, True, "binary")[0])
            else:
                total += len(copy_bytes(connection, sql, params))
        return total

    answers_sql, answers_params = (
        live_judgments(sprint).order_by().values_list("item_id", "annotator_id", "answers").query
    ).sql_with_params()

    def bare_select() -> int:
        with connection.cursor() as cursor:
            cursor.execute(answers_sql, answers_params)
            return len(cursor.fetchall())

    # krippendorff.alpha alone: the count matrices are prepared beforehand, untimed, and
    # independently of the report's own counting (np.unique, np.add.at).
    prepared = [
        (answers, reference_counts(answers.units, answers.values, len(answers.domain)))
        for answers in loaded.criteria
    ]

    def plain_alpha() -> dict:
        return {
            answers.name: float(
                krippendorff.alpha(
                    value_counts=counts,
                    value_domain=answers.domain,
                    level_of_measurement=answers.level,
                )
            )
            for answers, counts in prepared
        }

    # Interleaved: each round times the report and then its baselines back to back, so that a
    # change in the machine's load touches both sides of the ratio alike.
    runs = {
        "report": lambda: sprint_agreement(sprint, bootstrap=args.bootstrap),
        "bare_select": bare_select,
        "krippendorff": plain_alpha,
        "db": bare_copy,
        "fetch": lambda: read_rows(sprint),
        "serial_fetch": lambda: read_rows(sprint, parallel=False),
        "no_bootstrap": lambda: sprint_agreement(sprint, bootstrap=0),
    }
    if args.json_report:
        runs["json_report"] = lambda: json_report(sprint, args.bootstrap)
    times, results = rounds(runs, args.repeat)
    cpu = cpu_rounds(
        {
            "report": runs["report"],
            "bare_select": bare_select,
            "krippendorff": plain_alpha,
            **({"json_report": runs["json_report"]} if args.json_report else {}),
        },
        args.repeat,
    )
    median = {name: statistics.median(values) for name, values in times.items()}
    seconds, report = median["report"], results["report"]
    db_seconds, copied_bytes = median["db"], results["db"]
    rows = len(results["fetch"][0].item)
    plain = results["krippendorff"]
    baseline = median["bare_select"] + median["krippendorff"]
    round_ratios = [
        r / (b + k)
        for r, b, k in zip(
            times["report"], times["bare_select"], times["krippendorff"], strict=True
        )
    ]
    judgments = Judgment.objects.filter(sprint=sprint).count()
    figures = {
        "items": args.items,
        "annotators": len(ACCURACY),
        "judgments": judgments,
        "bootstrap": args.bootstrap,
        "seconds": round(seconds, 4),
        "db_seconds": round(db_seconds, 4),
        "db_share": round(db_seconds / seconds, 3),
        "db_rows": rows,
        "db_bytes": copied_bytes,
        "fetch_seconds": round(median["fetch"], 4),
        "serial_fetch_seconds": round(median["serial_fetch"], 4),
        "bare_select_seconds": round(median["bare_select"], 4),
        "no_bootstrap_seconds": round(median["no_bootstrap"], 4),
        "json_report_seconds": round(median["json_report"], 4) if args.json_report else None,
        "krippendorff_seconds": round(median["krippendorff"], 4),
        "baseline_seconds": round(baseline, 4),
        "ratio": round(seconds / baseline, 3),
        "round_ratios": [round(r, 3) for r in round_ratios],
        "report_runs": [round(t, 3) for t in times["report"]],
        "baseline_runs": [
            round(b + k, 3)
            for b, k in zip(times["bare_select"], times["krippendorff"], strict=True)
        ],
        "goal_seconds": 2.0,
        "goal_ratio": 1.25,
        "alpha": {name: c["alpha"] for name, c in report["criteria"].items()},
        "ci": {name: c["ci"] for name, c in report["criteria"].items()},
        "same_as_json": report == results["json_report"] if args.json_report else None,
        "codes": not Judgment.objects.filter(sprint=sprint, agreement_codes__isnull=True).exists(),
        "cpu": cpu,
        "cpu_ratio": round(
            cpu["report"]["total"] / (cpu["bare_select"]["total"] + cpu["krippendorff"]["total"]),
            3,
        ),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "alpha_matches_krippendorff": all(
            abs(report["criteria"][name]["alpha"] - value) < 1e-9 for name, value in plain.items()
        ),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
