"""Model leaderboard time: 1,000,000 judgments over 10 models read from PostgreSQL, split into
the read (judgments or consensus labels to battles) and the fit with its bootstrap, beside the
baseline of FastChat's published method measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_leaderboard_bench \\
        .venv/bin/python bench/leaderboard.py --items 200000

The database named in DATABASE_URL is dropped and created afresh (``--reuse`` keeps one an
earlier run filled with the same arguments), then filled with COPY: ``--items`` items of two
responses by two different models of ``--models`` with fixed Bradley-Terry strengths, judged by
``--annotators`` annotators each (3 % ties, the rest drawn from the Bradley-Terry law), every
judgment with the agreement record ``submit_judgment`` stores, and one consensus label per item
(the majority; a tie when split evenly). 200,000 items x 5 annotators = 1,000,000 judgments.

Measured, in ``--repeat`` rounds (one of each per round), medians printed:
``read_judgments_seconds`` / ``read_consensus_seconds`` (:func:`sprint_battles`: the database
read and the battles built from it), ``fit_bootstrap_seconds`` (:func:`fit_ratings` on the
judgments' battles with ``--bootstrap`` rounds), ``fit_seconds`` (the same, no bootstrap),
``leaderboard_judgments_seconds`` / ``leaderboard_consensus_seconds`` (the service end to end,
what the API answers); the baseline ``logistic_seconds``: scikit-learn's LogisticRegression on
the same battles as FastChat describes its MLE ratings (one row per battle, +1/-1 features, no
intercept, ties as half a win and half a loss), one fit and no interval. ``fit_ratio`` is
``fit_seconds / logistic_seconds`` and ``leaderboard_ratio`` the judgments leaderboard with its
bootstrap over that one baseline fit. Checks: ``order_recovered`` (the ratings rank the models as
their true strengths do), ``max_error`` (Elo points from the true, centred strengths) and
``max_logistic_gap`` (from the logistic regression's ratings after a shift).
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

TIE_SHARE = 0.03
JUDGMENT_COLUMNS = (
    "sprint_id", "item_id", "assignment_id", "annotator_id", "rubric_id", "answers", "seconds",
    "idempotency_key", "request_sha256", "created_at", "agreement_codes",
)  # fmt: skip
ANSWERS = [
    json.dumps({"preference": {"ranking": ["a", "b"]}}),
    json.dumps({"preference": {"ranking": ["b", "a"]}}),
    json.dumps({"preference": {"tie": True}}),
]


def strengths(models: int) -> np.ndarray:
    """Fixed logits, evenly spread over 2.4 (about 400 Elo points top to bottom)."""
    return np.linspace(1.2, -1.2, models)


def model_names(models: int) -> list[str]:
    """Labels as the leaderboard writes them: even models carry a version."""
    return [f"model-{m:02d}@v1" if m % 2 == 0 else f"model-{m:02d}" for m in range(models)]


def fill(items: int, annotators: int, models: int, seed: int):
    """The bench sprint, filled; returns it."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.models import Criterion, Rubric, Sprint, SprintMember
    from annotation.services.agreement_codes import encode

    rubric = Rubric.objects.create(name="bench leaderboard")
    Criterion.objects.create(
        rubric=rubric, name="preference", kind="preference", question="Better?",
        config={"allow_tie": True},
    )  # fmt: skip
    sprint = Sprint.objects.create(
        name=f"bench leaderboard {items}x{annotators} {models} models seed {seed}",
        slug="bench-leaderboard", rubric=rubric, status="active", overlap_k=annotators,
    )  # fmt: skip
    users = [
        get_user_model().objects.create_user(username=f"annotator-{n}", password="x")
        for n in range(annotators)
    ]
    for n, user in enumerate(users):
        SprintMember.objects.create(sprint=sprint, user=user, pseudonym=f"A{n}")
    criteria = list(Criterion.objects.filter(rubric=rubric))
    rng = np.random.default_rng(seed)
    first = rng.integers(0, models, items)
    second = (first + rng.integers(1, models, items)) % models
    p_first = 1 / (1 + np.exp(-(strengths(models)[first] - strengths(models)[second])))
    draws = rng.random((items, annotators, 2))
    votes = np.where(draws[..., 0] < TIE_SHARE, 2, (draws[..., 1] >= p_first[:, None]).astype(int))
    names = [(name.split("@")[0], "v1" if "@" in name else "") for name in model_names(models)]
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cur = cursor.cursor
        # Items and assignments are made by the database itself, from generate_series.
        cur.execute(
            "INSERT INTO annotation_item (sprint_id, external_id, prompt, context, metadata,"
            " source, stratum, is_gold, content_sha256, created_at)"
            " SELECT %s, 'x-' || n, to_jsonb('q' || n), '[]', '{}', '', '', false,"
            " lpad(n::text, 64, '0'), %s FROM generate_series(0, %s - 1) AS n RETURNING id",
            [sprint.pk, now, items],
        )
        item_ids = sorted(row[0] for row in cur.fetchall())
        with cur.copy(
            "COPY annotation_response (item_id, key, text, model_name, model_version, metadata,"
            " position) FROM STDIN"
        ) as copy:
            for n, item_id in enumerate(item_ids):
                copy.write_row((item_id, "a", "answer a", *names[first[n]], "{}", 0))
                copy.write_row((item_id, "b", "answer b", *names[second[n]], "{}", 1))
        cur.execute(
            "INSERT INTO annotation_assignment (sprint_id, item_id, annotator_id, status,"
            " leased_at, lease_expires_at, skip_reason)"
            " SELECT %s, i.id, u.id, 'submitted', %s, %s, '' FROM annotation_item i"
            " CROSS JOIN unnest(%s::bigint[]) AS u(id) WHERE i.sprint_id = %s"
            " RETURNING item_id, annotator_id, id",
            [sprint.pk, now, now + timedelta(1), [user.pk for user in users], sprint.pk],
        )
        assignment = {(i, a): pk for i, a, pk in cur.fetchall()}
        parsed = [json.loads(text) for text in ANSWERS]
        with cur.copy(
            f"COPY annotation_judgment ({', '.join(JUDGMENT_COLUMNS)}) FROM STDIN"
        ) as copy:
            for n, item_id in enumerate(item_ids):
                for a, user in enumerate(users):
                    vote = int(votes[n, a])
                    record = encode(criteria, ["a", "b"], parsed[vote], item_id=item_id,
                                    annotator_id=user.pk, seconds=20.0)  # fmt: skip
                    copy.write_row((sprint.pk, item_id, assignment[(item_id, user.pk)], user.pk,
                                    rubric.pk, ANSWERS[vote], 20.0, f"k-{item_id}-{a}", "", now,
                                    record))  # fmt: skip
        a_votes, b_votes = (votes == 0).sum(axis=1), (votes == 1).sum(axis=1)
        with cur.copy(
            "COPY reviews_consensuslabel (sprint_id, item_id, ranking, tie, answers, method,"
            " confidence, judgment_ids, updated_at) FROM STDIN"
        ) as copy:
            for n, item_id in enumerate(item_ids):
                tie = a_votes[n] == b_votes[n]
                ranking = [] if tie else ["a", "b"] if a_votes[n] > b_votes[n] else ["b", "a"]
                copy.write_row((sprint.pk, item_id, json.dumps(ranking), bool(tie), "{}",
                                "majority", 0.8, "[]", now))  # fmt: skip
        cur.execute("ANALYZE")
    return sprint


def logistic_ratings(battles, n_models: int) -> np.ndarray:
    """FastChat's published method, written from its description: logistic regression on one
    row per battle (+1 first model, -1 second), no intercept, a tie as half of each outcome."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    rows = len(battles)
    index = np.arange(rows)
    one = sparse.csr_matrix(
        (np.r_[np.ones(rows), -np.ones(rows)], (np.r_[index, index],
         np.r_[battles.first, battles.second])), shape=(rows, n_models),
    )  # fmt: skip
    features = sparse.vstack([one, one]).tocsr()
    outcome = np.r_[np.ones(rows), np.zeros(rows)]
    weight = np.r_[battles.outcome, 1.0 - battles.outcome]
    keep = weight > 0
    regression = LogisticRegression(fit_intercept=False, C=1e8, tol=1e-6, max_iter=1000)
    regression.fit(features[keep], outcome[keep], sample_weight=weight[keep])
    return 400 / np.log(10) * regression.coef_[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--annotators", type=int, default=5)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", action="store_true", help="keep a database filled before")
    args = parser.parse_args()
    setup_fresh_database("bench/leaderboard.py", keep=args.reuse)

    from annotation.models import Judgment, Sprint
    from reviews.services.bradley_terry import BASE_RATING, ELO_PER_LOGIT, Battles, fit_ratings
    from reviews.services.leaderboard import leaderboard, sprint_battles

    sprint = Sprint.objects.filter(slug="bench-leaderboard").first()
    if sprint is None:
        start = time.perf_counter()
        sprint = fill(args.items, args.annotators, args.models, args.seed)
        print(f"filled in {time.perf_counter() - start:.1f} s", flush=True)
    judgments = Judgment.objects.filter(sprint=sprint).count()
    battles, models, _ = sprint_battles([sprint], "judgments")
    battles = Battles(battles.unit, battles.first, battles.second, battles.outcome)
    runs = {
        "read_judgments": lambda: sprint_battles([sprint], "judgments"),
        "read_consensus": lambda: sprint_battles([sprint], "consensus"),
        "fit": lambda: fit_ratings(battles, len(models), bootstrap=0),
        "fit_bootstrap": lambda: fit_ratings(
            battles, len(models), bootstrap=args.bootstrap, seed=0
        ),
        "logistic": lambda: logistic_ratings(battles, len(models)),
        "leaderboard_judgments": lambda: leaderboard(
            [sprint], source="judgments", bootstrap=args.bootstrap
        ),
        "leaderboard_consensus": lambda: leaderboard(
            [sprint], source="consensus", bootstrap=args.bootstrap
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict = {}
    for number in range(args.repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
        done = ", ".join(f"{name} {values[-1]:.3f} s" for name, values in times.items())
        print(f"round {number + 1}: {done}", flush=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    ours = results["fit"].ratings
    truth = BASE_RATING + ELO_PER_LOGIT * (strengths(args.models) - strengths(args.models).mean())
    by_name = dict(zip(models, ours, strict=True))
    expected = [by_name[name] for name in model_names(args.models)]
    theirs = results["logistic"]
    figures = {
        "judgments": judgments,
        "battles": len(battles),
        "models": len(models),
        "bootstrap": args.bootstrap,
        "repeat": args.repeat,
        **{f"{name}_seconds": round(value, 4) for name, value in median.items()},
        "fit_ratio": round(median["fit"] / median["logistic"], 4),
        "leaderboard_ratio": round(median["leaderboard_judgments"] / median["logistic"], 3),
        "order_recovered": bool(np.all(np.diff(expected) < 0)),
        "max_error": round(float(np.abs(np.array(expected) - truth).max()), 2),
        "max_logistic_gap": round(float(np.abs(ours - theirs - (ours - theirs).mean()).max()), 4),
        "runs": {name: [round(v, 4) for v in values] for name, values in times.items()},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
