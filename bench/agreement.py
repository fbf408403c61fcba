"""Agreement report time: ``sprint_agreement`` end to end (default 1000-resample bootstrap) for a
sprint of N items x 5 annotators read from PostgreSQL, beside baselines measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_agree_bench \\
        .venv/bin/python bench/agreement.py --items 100000

The database named in DATABASE_URL is dropped and created afresh, then filled with COPY: items of
two responses, 5 annotators of known accuracy answering a preference (with tie and strength), two
Likert scores and a flag, noisily around a hidden truth.

Figures (last line, one JSON object): ``seconds`` (the report, end to end, median of
``--repeat`` runs), ``db_seconds`` (the report's own statements, their COPY run bare and the
bytes received, not parsed: what the database and the wire cost) and ``db_share``,
``fetch_seconds`` (the same statements parsed into arrays, as the report reads them); baselines:
``serial_fetch_seconds`` (that read with PostgreSQL's default costs, which plan it on one core),
``bare_select_seconds`` (SELECT of the live judgments' whole JSON answers, what a plain
``values_list("answers")`` reader would start from), ``no_bootstrap_seconds`` (the report with
bootstrap=0), ``krippendorff_seconds`` (krippendorff.alpha alone on the prepared counts, every
criterion, no bootstrap), ``baseline_seconds`` (bare select + krippendorff) and ``ratio``
(``seconds / baseline_seconds``; the goal is at most ``goal_ratio``).
"""

import argparse
import json
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


def fill(items: int, seed: int):
    """A sprint of ``items`` items x len(ACCURACY) annotators, all judged; returns the sprint."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Criterion, Rubric, Sprint, SprintMember

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
        name="bench", slug="bench", rubric=rubric, status="active", overlap_k=len(ACCURACY)
    )
    users = [
        get_user_model().objects.create_user(username=f"annotator-{n}", password="x")
        for n in range(len(ACCURACY))
    ]
    for n, user in enumerate(users):
        SprintMember.objects.create(sprint=sprint, user=user, pseudonym=f"A{n}")
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
            " rubric_id, answers, seconds, idempotency_key, request_sha256, created_at)"
            " FROM STDIN"
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
                    copy.write_row(
                        (
                            sprint.pk,
                            item_id,
                            assignment[(item_id, user.pk)],
                            user.pk,
                            rubric.pk,
                            json.dumps(answers),
                            float(5 + 60 * draw[5]),
                            f"k-{item_id}-{a}",
                            "",
                            now,
                        )
                    )
        cur.execute("ANALYZE")
    return sprint


def timed(run, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    setup_fresh_database("bench/agreement.py")
    import krippendorff
    from django.db import connection

    from annotation.models import Judgment
    from reviews.services.agreement import _pairable, sprint_agreement
    from reviews.services.agreement_alpha import unit_value_counts
    from reviews.services.agreement_rows import live_judgments, read_rows
    from reviews.services.agreement_sql import copy_bytes
    from reviews.services.agreement_units import load_judgments

    print(f"filling {args.items:,} items x {len(ACCURACY)} annotators ...", flush=True)
    start = time.perf_counter()
    sprint = fill(args.items, args.seed)
    print(f"filled in {time.perf_counter() - start:.1f} s", flush=True)

    seconds, report = timed(lambda: sprint_agreement(sprint, bootstrap=args.bootstrap), args.repeat)
    print(f"report: {seconds:.3f} s", flush=True)

    # The report's own statements, their COPY run bare (bytes only, not parsed): what the
    # database and the wire cost. Then the same with the parsing into arrays.
    loaded = load_judgments(sprint)
    statements = []
    read_rows(sprint, ran=statements)

    def bare_copy() -> int:
        return sum(len(copy_bytes(connection, sql, params)) for sql, params, _ in statements)

    db_seconds, copied_bytes = timed(bare_copy, args.repeat)
    fetch_seconds, (fetched, _) = timed(lambda: read_rows(sprint), args.repeat)
    serial_fetch_seconds, _ = timed(lambda: read_rows(sprint, parallel=False), args.repeat)
    rows = len(fetched.item)

    def bare(query: str, values) -> int:
        with connection.cursor() as cursor:
            cursor.execute(query, values)
            return len(cursor.fetchall())

    answers_sql, answers_params = (
        live_judgments(sprint).order_by().values_list("item_id", "annotator_id", "answers").query
    ).sql_with_params()
    bare_select_seconds, _ = timed(lambda: bare(answers_sql, answers_params), args.repeat)
    no_bootstrap_seconds, _ = timed(lambda: sprint_agreement(sprint, bootstrap=0), args.repeat)

    def plain_alpha() -> dict:
        alphas = {}
        for answers in loaded.criteria:
            pairable = _pairable(answers.units)
            counts = unit_value_counts(
                answers.units[pairable], answers.values[pairable], len(answers.domain)
            )
            alphas[answers.name] = float(
                krippendorff.alpha(
                    value_counts=counts,
                    value_domain=answers.domain,
                    level_of_measurement=answers.level,
                )
            )
        return alphas

    krippendorff_seconds, plain = timed(plain_alpha, args.repeat)
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
        "fetch_seconds": round(fetch_seconds, 4),
        "serial_fetch_seconds": round(serial_fetch_seconds, 4),
        "bare_select_seconds": round(bare_select_seconds, 4),
        "no_bootstrap_seconds": round(no_bootstrap_seconds, 4),
        "krippendorff_seconds": round(krippendorff_seconds, 4),
        "baseline_seconds": round(bare_select_seconds + krippendorff_seconds, 4),
        "ratio": round(seconds / (bare_select_seconds + krippendorff_seconds), 3),
        "goal_seconds": 2.0,
        "goal_ratio": 1.25,
        "alpha": {name: c["alpha"] for name, c in report["criteria"].items()},
        "ci": {name: c["ci"] for name, c in report["criteria"].items()},
        "alpha_matches_krippendorff": all(
            abs(report["criteria"][name]["alpha"] - value) < 1e-9 for name, value in plain.items()
        ),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
