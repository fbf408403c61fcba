"""Consensus time and quality: ``compute_consensus`` (the ``auto`` policy: a sprint-wide
Dawid-Skene fit, Bradley-Terry for ranked items, labels written in bulk) for a sprint of N
items x 5 annotators read from PostgreSQL, beside baselines measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_disp_bench \\
        .venv/bin/python bench/consensus.py --items 100000

The database named in DATABASE_URL is dropped and created afresh, then filled with COPY: items
of two responses (and ``--ranked-share`` of items with four, ranked), five annotators of known
accuracy around a hidden truth, one of them adversarial (right 10% of the time).

Figures (last line, one JSON object): ``seconds`` (compute_consensus auto, first run: every label
inserted), ``cpu_seconds`` (this process's CPU time in that run, without the database server's:
steadier than ``seconds`` on a loaded machine), ``recompute_seconds`` (the same again on the settled
sprint: nothing to write), ``select_seconds`` (baseline: a bare SELECT of the sprint's judgments,
answers as text),
``read_seconds`` (baseline: reading and parsing the sprint's live judgments in item chunks, what
any sprint-wide method costs at least), ``majority_seconds`` (baseline: method=majority, one
pass, no model), ``sweep_seconds`` (review_sprint: consensus and the dispute rules for every
item), ``per_item_ms`` (median of ``review_item`` on single items, the per-judgment task; both
left out with ``--skip-sweep``), ``ds_accuracy`` / ``majority_accuracy`` (share of two-response
items whose label is the truth) and ``labels_sha256`` (a digest of every ``auto`` label, to
compare two versions on the same data; ``--labels-out`` writes the labels themselves). With
``--repeat N`` the sprint is filled once and the timed steps run N times (labels deleted before
each round); the times are medians.
"""

import argparse
import hashlib
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

ACCURACY = [0.9, 0.85, 0.8, 0.7, 0.1]


def _copy(cur, sql: str, rows) -> None:
    with cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def fill(items: int, ranked_share: float, seed: int):
    """Returns (sprint, {item_id: true ranking}) for a sprint filled with COPY."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Criterion, Rubric, Sprint, SprintMember

    rubric = Rubric.objects.create(name="bench consensus")
    Criterion.objects.create(
        rubric=rubric,
        name="preference",
        kind="preference",
        question="Better?",
        config={"strength_labels": ["slightly", "clearly", "much"]},
    )
    Criterion.objects.create(
        rubric=rubric, name="helpfulness", kind="likert", question="Helpful?", position=1
    )
    sprint = Sprint.objects.create(
        name="bench", slug="bench", rubric=rubric, status="active", overlap_k=len(ACCURACY)
    )
    users = [
        get_user_model().objects.create_user(username=f"annotator-{n}", password="x")
        for n in range(len(ACCURACY))
    ]
    for user in users:
        SprintMember.objects.create(sprint=sprint, user=user)
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    sizes = np.where(rng.random(items) < ranked_share, 4, 2)
    with connection.cursor() as cursor:
        cur = cursor.cursor
        _copy(
            cur,
            "COPY annotation_item (sprint_id, external_id, prompt, context, metadata, source,"
            " stratum, is_gold, content_sha256, created_at) FROM STDIN",
            (
                (sprint.pk, f"x-{n}", json.dumps(f"q{n}"), "[]", "{}", "", "", False,
                 f"{n:064d}", now)
                for n in range(items)
            ),
        )  # fmt: skip
        cur.execute("SELECT id FROM annotation_item WHERE sprint_id = %s ORDER BY id", [sprint.pk])
        item_ids = [row[0] for row in cur.fetchall()]
        _copy(
            cur,
            "COPY annotation_response (item_id, key, text, model_name, model_version, metadata,"
            " position) FROM STDIN",
            (
                (item_id, key, f"answer {key}", "", "", "{}", position)
                for item_id, size in zip(item_ids, sizes, strict=True)
                for position, key in enumerate("abcd"[:size])
            ),
        )
        _copy(
            cur,
            "COPY annotation_assignment (sprint_id, item_id, annotator_id, status, leased_at,"
            " lease_expires_at, skip_reason) FROM STDIN",
            (
                (sprint.pk, item_id, user.pk, "submitted", now, now + timedelta(1), "")
                for item_id in item_ids
                for user in users
            ),
        )
        cur.execute(
            "SELECT item_id, annotator_id, id FROM annotation_assignment WHERE sprint_id = %s",
            [sprint.pk],
        )
        assignment = {(i, a): pk for i, a, pk in cur.fetchall()}
        truth = {}
        rows = []
        for item_id, size in zip(item_ids, sizes, strict=True):
            order = list(rng.permutation(list("abcd"[:size])))
            truth[item_id] = order
            for a, (user, accuracy) in enumerate(zip(users, ACCURACY, strict=True)):
                ranking = list(order)
                if size == 2 and rng.random() > accuracy:
                    ranking.reverse()
                elif size > 2:
                    for _ in range(int(rng.integers(0, 3))):
                        place = int(rng.integers(0, size - 1))
                        ranking[place], ranking[place + 1] = ranking[place + 1], ranking[place]
                answers = {
                    "preference": {"ranking": ranking, "strength": int(rng.integers(1, 4))},
                    "helpfulness": {key: int(rng.integers(1, 6)) for key in order},
                }
                rows.append(
                    (sprint.pk, item_id, assignment[(item_id, user.pk)], user.pk, rubric.pk,
                     json.dumps(answers), 20.0, f"k-{item_id}-{a}", "", now)
                )  # fmt: skip
        _copy(
            cur,
            "COPY annotation_judgment (sprint_id, item_id, assignment_id, annotator_id,"
            " rubric_id, answers, seconds, idempotency_key, request_sha256, created_at)"
            " FROM STDIN",
            rows,
        )
        cur.execute("ANALYZE")
    return sprint, truth


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def accuracy_of_labels(sprint, truth) -> float:
    from reviews.models import ConsensusLabel

    pairs = [
        ranking == truth[item_id]
        for item_id, ranking in ConsensusLabel.objects.filter(sprint=sprint).values_list(
            "item_id", "ranking"
        )
        if len(truth[item_id]) == 2
    ]
    return round(sum(pairs) / len(pairs), 4) if pairs else None


def labels_digest(sprint, dump: Path | None) -> str:
    """SHA-256 of every label's content (item, ranking, tie, method, confidence, strength,
    answers, agreement, judgment ids) in item order, so two runs on the same data can be
    compared; with ``dump`` each label is also written there as one JSON line."""
    from reviews.models import ConsensusLabel

    digest = hashlib.sha256()
    fields = ("item_id", "ranking", "tie", "method", "confidence", "strength", "answers")
    rows = ConsensusLabel.objects.filter(sprint=sprint).order_by("item_id")
    out = dump.open("w") if dump else None
    for row in rows.values_list(*fields, "agreement", "judgment_ids").iterator(chunk_size=5000):
        line = json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n"
        digest.update(line.encode())
        if out:
            out.write(line)
    if out:
        out.close()
    return digest.hexdigest()


def bare_select(sprint) -> int:
    """Baseline: the sprint's judgments (ids and answers as text) fetched by a bare SELECT."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, item_id, annotator_id, answers::text FROM annotation_judgment"
            " WHERE sprint_id = %s",
            [sprint.pk],
        )
        return len(cursor.fetchall())


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--ranked-share", type=float, default=0.1)
    parser.add_argument("--per-item", type=int, default=50, help="review_item calls to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="timed rounds; medians reported")
    parser.add_argument(
        "--skip-sweep", action="store_true", help="leave out the dispute sweep and review_item"
    )
    parser.add_argument(
        "--labels-out", type=Path, help="also write the auto labels here, one JSON line each"
    )
    args = parser.parse_args()

    setup_fresh_database("bench/consensus.py")
    from reviews.models import ConsensusLabel
    from reviews.services.consensus import compute_consensus
    from reviews.services.consensus_data import RubricShape, sprint_item_chunks
    from reviews.services.disputes import review_item, review_sprint

    print(f"filling {args.items} items x {len(ACCURACY)} annotators", flush=True)
    sprint, truth = fill(args.items, args.ranked_share, args.seed)

    shape = RubricShape.of(sprint)
    times: dict[str, list[float]] = {
        key: [] for key in ("select", "read", "majority", "auto", "recompute")
    }
    cpu: list[float] = []
    digests = set()
    for round_ in range(max(args.repeat, 1)):
        ConsensusLabel.objects.filter(sprint=sprint).delete()
        times["select"].append(timed(lambda: bare_select(sprint))[0])
        times["read"].append(
            timed(lambda: sum(len(chunk) for chunk in sprint_item_chunks(sprint, shape)))[0]
        )
        times["majority"].append(timed(lambda: compute_consensus(sprint, method="majority"))[0])
        majority_accuracy = accuracy_of_labels(sprint, truth)
        ConsensusLabel.objects.filter(sprint=sprint).delete()
        started = time.process_time()
        seconds, counts = timed(lambda: compute_consensus(sprint))
        cpu.append(time.process_time() - started)
        times["auto"].append(seconds)
        ds_accuracy = accuracy_of_labels(sprint, truth)
        digests.add(labels_digest(sprint, args.labels_out if round_ == 0 else None))
        recompute_seconds, again = timed(lambda: compute_consensus(sprint))
        times["recompute"].append(recompute_seconds)
        print(
            f"round {round_ + 1}: "
            + ", ".join(f"{key} {values[-1]:.2f}s" for key, values in times.items())
            + f"; {counts}, recompute wrote {again['written']}",
            flush=True,
        )
    if len(digests) != 1:
        sys.exit(f"the rounds labelled differently: {sorted(digests)}")
    sweep_seconds, sweep, per_item = None, {"opened": None}, []
    if not args.skip_sweep:
        sweep_seconds, sweep = timed(lambda: review_sprint(sprint))
        print(f"sweep: {sweep_seconds:.2f}s, {sweep['opened']} disputes opened", flush=True)
        ids = list(truth)[:: max(1, len(truth) // max(args.per_item, 1))][: args.per_item]
        per_item = [timed(lambda item_id=item_id: review_item(item_id))[0] for item_id in ids]
    seconds, read_seconds = median(times["auto"]), median(times["read"])
    select_seconds = median(times["select"])

    print(
        json.dumps(
            {
                "items": args.items,
                "annotators": len(ACCURACY),
                "repeat": len(times["auto"]),
                "seconds": seconds,
                "cpu_seconds": median(cpu),
                "recompute_seconds": median(times["recompute"]),
                "select_seconds": select_seconds,
                "ratio_to_select": round(seconds / select_seconds, 2),
                "read_seconds": read_seconds,
                "majority_seconds": median(times["majority"]),
                "ratio_to_read": round(seconds / read_seconds, 2),
                "sweep_seconds": None if sweep_seconds is None else round(sweep_seconds, 3),
                "per_item_ms": round(1000 * statistics.median(per_item), 2) if per_item else None,
                "labels": counts["labelled"],
                "methods": counts["methods"],
                "labels_sha256": digests.pop(),
                "disputes_opened": sweep["opened"],
                "ds_accuracy": ds_accuracy,
                "majority_accuracy": majority_accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()
