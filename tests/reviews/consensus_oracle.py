"""A fixed sprint that exercises every consensus path, and its labels as plain JSON.

The labels that ``compute_consensus`` (each method in turn, then ``auto``) and the per-item
refresh gave on this data are stored in ``consensus_oracle.json``; the test recomputes them and
compares, so a faster implementation must give the same labels. Items are named by external id
and judgments by ``<item>:<annotator>:<n>`` (the annotator's n-th judgment of the item), never by
database id, so the data may be built on any database.

Regenerate (only when a change of labels is intended, and say why in the commit):

    REGENERATE_CONSENSUS_ORACLE=1 .venv/bin/pytest tests/reviews/test_consensus_oracle.py
"""

from pathlib import Path

import numpy as np

from annotation.models import Criterion, CriterionKind, Judgment
from reviews.models import ConsensusLabel, ConsensusMethod
from reviews.services.consensus import compute_consensus, refresh_item_consensus
from tests.reviews.dispute_fixtures import make_gold, make_items, people, vote

ORACLE = Path(__file__).with_name("consensus_oracle.json")
ACCURACIES = [0.9, 0.8, 0.75, 0.7, 0.15]
RUNS = ("unanimous", "majority", "bradley_terry", "dawid_skene", "auto")


def build_sprint(sprint, make_user) -> dict:
    """Fill ``sprint``; returns the objects the refresh step needs."""
    Criterion.objects.create(
        rubric=sprint.rubric, name="unsafe", kind=CriterionKind.FLAG, question="Unsafe?"
    )
    users = people(sprint, make_user, ["u1", "u2", "u3", "u4", "adversary"])
    rng = np.random.default_rng(18)

    # Pairs voted by five annotators of known accuracy (one adversarial): Dawid-Skene's ground.
    pairs = make_items(sprint, 40, prefix="pair")
    for n, item in enumerate(pairs):
        better = int(rng.integers(0, 2))
        for u, (user, accuracy) in enumerate(zip(users, ACCURACIES, strict=True)):
            if (n + u) % 11 == 0:
                continue  # not everyone judged every item
            first = better if rng.random() < accuracy else 1 - better
            extra = {"unsafe": {"a": bool((n + u) % 3 == 0)}} if n % 4 == 0 else None
            helpfulness = {"a": int(rng.integers(1, 6)), "b": int(rng.integers(1, 6))}
            if n % 5 == 0:
                helpfulness = None
            vote(
                item,
                user,
                ["ab"[first], "ab"[1 - first]],
                strength=(n + u) % 3 + 1 if n % 3 else None,
                helpfulness=helpfulness,
                extra=extra,
            )
    for item, ranking in zip(pairs[:3], (["a", "b"], ["b", "a"], ["a", "b"]), strict=True):
        make_gold(item, ranking)
    make_gold(pairs[3], ["a", "z"])  # a gold answer that names no response: not used

    # Revisions: the superseded judgment must no longer count.
    for item, user, ranking in ((pairs[5], users[0], ["b", "a"]), (pairs[6], users[4], ["a", "b"])):
        vote(item, user, ranking, strength=3)
    vote(pairs[6], users[4], ["b", "a"], tie=False)

    odd = make_items(sprint, 12, prefix="odd")
    # Unanimous, majority, split, majority of ties, ties and votes mixed.
    for user in users[:3]:
        vote(odd[0], user, ["b", "a"], strength=2, helpfulness={"a": 2, "b": 5})
    for user, ranking in zip(users[:3], (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
        vote(odd[1], user, ranking, strength=1)
    vote(odd[2], users[0], ["a", "b"])
    vote(odd[2], users[1], ["b", "a"])
    for user in users[:3]:
        vote(odd[3], user, tie=True)
    vote(odd[3], users[3], ["a", "b"])
    for user, tie in zip(users, (True, True, False, False, False), strict=True):
        vote(odd[4], user, None if tie else ["b", "a"], tie=tie)
    # Odd answers: not a permutation, not a dict, a float score, a boolean score, a flag that
    # is not a boolean, a strength that is not an integer.
    vote(odd[5], users[0], ["a", "c"])
    vote(odd[5], users[1], ["a", "b"], strength=True, helpfulness={"a": 4.5, "b": True})
    vote(odd[5], users[2], ["a", "b"], strength=2, extra={"unsafe": {"a": "yes", "b": True}})
    vote(odd[6], users[0], ["a", "b"], helpfulness={"a": 3}, extra={"preference": "a"})
    vote(odd[7], users[3], ["b", "a"], strength=3)  # a single vote
    adjudicated = odd[8]
    for user in users[:3]:
        vote(adjudicated, user, ["a", "b"])
    ConsensusLabel.objects.create(
        sprint=sprint,
        item=adjudicated,
        ranking=["b", "a"],
        method=ConsensusMethod.ADJUDICATED,
        confidence=1.0,
    )
    vote(odd[9], users[0], ["a", "b"], extra={"unsafe": "no"})  # the rest have no vote
    vote(odd[10], users[1], tie=True)
    vote(odd[10], users[2], tie=True)

    (renamed,) = make_items(sprint, 1, keys="xy", prefix="named")
    named = (["y", "x"], ["y", "x"], ["x", "y"], ["y", "x"])
    for user, ranking in zip(users[:4], named, strict=True):
        vote(renamed, user, ranking, helpfulness={"x": 1, "y": 4})
    (single,) = make_items(sprint, 1, keys="a", prefix="single")
    vote(single, users[0], ["a"])

    # Rankings of three and four responses: Bradley-Terry.
    three = make_items(sprint, 6, keys="abc", prefix="three")
    four = make_items(sprint, 4, keys="abcd", prefix="four")
    for n, item in enumerate(three + four):
        keys = list("abcd"[: 3 if item in three else 4])
        base = list(rng.permutation(keys))
        for u, user in enumerate(users):
            ranking = list(base)
            if n == 1:
                pass  # unanimous
            elif n == 2 and u < 3:
                vote(item, user, tie=True)
                continue
            else:
                for _ in range(int(rng.integers(0, 3))):
                    place = int(rng.integers(0, len(keys) - 1))
                    ranking[place], ranking[place + 1] = ranking[place + 1], ranking[place]
            scores = {key: int(rng.integers(1, 6)) for key in keys}
            vote(item, user, ranking, strength=u % 3 + 1, helpfulness=scores)
    vote(three[3], users[1], ["c", "b", "a"], strength=1)  # a revision of a ranking
    return {"late_item": pairs[10], "late_user": users[4]}


def judgment_names(sprint) -> dict[int, str]:
    names, seen = {}, {}
    rows = Judgment.objects.filter(sprint=sprint).order_by("id")
    for pk, external_id, username in rows.values_list(
        "pk", "item__external_id", "annotator__username"
    ):
        key = (external_id, username.removeprefix(f"{sprint.slug}-"))
        seen[key] = seen.get(key, -1) + 1
        names[pk] = f"{key[0]}:{key[1]}:{seen[key]}"
    return names


def label_snapshot(sprint) -> dict:
    names = judgment_names(sprint)
    out = {}
    for label in ConsensusLabel.objects.filter(sprint=sprint).select_related("item"):
        out[label.item.external_id] = {
            "ranking": label.ranking,
            "tie": label.tie,
            "method": label.method,
            "confidence": label.confidence,
            "strength": label.strength,
            "answers": label.answers,
            "agreement": label.agreement,
            "judgments": [names[pk] for pk in label.judgment_ids],
        }
    return dict(sorted(out.items()))


def run_oracle(sprint, make_user) -> dict:
    """Build the sprint, run every method then the per-item refresh; what each left."""
    late = build_sprint(sprint, make_user)
    result = {}
    for method in RUNS:
        counts = compute_consensus(sprint, method=method)
        result[method] = {"counts": counts, "labels": label_snapshot(sprint)}
    vote(late["late_item"], late["late_user"], ["b", "a"], strength=2)
    refresh_item_consensus(late["late_item"])
    result["refresh"] = label_snapshot(sprint)[late["late_item"].external_id]
    return result
