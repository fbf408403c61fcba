"""compute_consensus and the per-item refresh, on judgments stored in the database."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Criterion, CriterionKind
from reviews.models import ConsensusLabel, DawidSkeneFit
from reviews.services.consensus import (
    UnknownMethod,
    compute_consensus,
    refresh_item_consensus,
)
from reviews.services.consensus_store import CONTENT, COPY_FROM_ROWS, upsert_labels
from tests.reviews.dispute_fixtures import (
    bulk_votes,
    make_gold,
    make_items,
    people,
    simulated_pair_votes,
    vote,
)

pytestmark = pytest.mark.django_db


def labels(sprint) -> dict[int, ConsensusLabel]:
    return {label.item_id: label for label in ConsensusLabel.objects.filter(sprint=sprint)}


def accuracy(sprint, items, truth) -> float:
    found = labels(sprint)
    right = [
        found[item.pk].ranking[0] == "ab"[better] for item, better in zip(items, truth, strict=True)
    ]
    return sum(right) / len(items)


def test_dawid_skene_beats_majority_vote_with_an_adversarial_annotator(sprint, make_user):
    # Five annotators on 200 items; the last answers the opposite 90% of the time.
    items = make_items(sprint, 200)
    users = people(sprint, make_user, ["u1", "u2", "u3", "u4", "adversary"])
    truth = np.random.default_rng(1).integers(0, 2, len(items))
    bulk_votes(items, users, simulated_pair_votes(truth, [0.8, 0.75, 0.7, 0.65, 0.1], seed=2))

    majority = compute_consensus(sprint, method="majority")
    assert majority["labelled"] == 200 and majority["methods"] == {"majority": 200}
    majority_accuracy = accuracy(sprint, items, truth)

    counts = compute_consensus(sprint, method="dawid_skene")
    assert counts["labelled"] == 200 and counts["written"] > 0
    ds_accuracy = accuracy(sprint, items, truth)
    assert ds_accuracy >= majority_accuracy + 0.08, (ds_accuracy, majority_accuracy)

    # auto labels exactly as Dawid-Skene does, and names majority/unanimous where they agree.
    compute_consensus(sprint)
    assert accuracy(sprint, items, truth) == ds_accuracy
    methods = {label.method for label in labels(sprint).values()}
    assert methods <= {"unanimous", "majority", "dawid_skene"} and "dawid_skene" in methods
    fit = DawidSkeneFit.objects.get(sprint=sprint)
    adversary = fit.confusions[str(users[-1].pk)]
    # The model learned that the adversary says "b better" when "a" is.
    assert adversary[1][0] > 0.8


def test_unanimous_majority_and_split_in_auto(sprint, make_user):
    unanimous, majority, split = make_items(sprint, 3)
    ada, bo, cy = people(sprint, make_user, ["ada", "bo", "cy"])
    for user in (ada, bo, cy):
        vote(unanimous, user, ["b", "a"], strength=2)
    vote(majority, ada, ["a", "b"], strength=1)
    vote(majority, bo, ["a", "b"], strength=3)
    vote(majority, cy, ["b", "a"], strength=3)
    vote(split, ada, ["a", "b"])
    vote(split, bo, ["b", "a"])

    counts = compute_consensus(sprint)

    assert counts["items"] == 3 and counts["labelled"] == 3 and counts["written"] == 3
    found = labels(sprint)
    assert found[unanimous.pk].method == "unanimous"
    assert found[unanimous.pk].ranking == ["b", "a"] and found[unanimous.pk].strength == 2
    assert found[unanimous.pk].agreement == 1.0
    assert found[majority.pk].method == "majority"
    assert found[majority.pk].ranking == ["a", "b"] and found[majority.pk].strength == 2
    assert found[majority.pk].agreement == pytest.approx(1 / 3)
    assert found[split.pk].method == "dawid_skene"
    assert 0 <= found[split.pk].confidence <= 1
    assert sorted(found[split.pk].judgment_ids) == found[split.pk].judgment_ids
    assert len(found[split.pk].judgment_ids) == 2


def test_explicit_methods_leave_undecided_items_alone(sprint, make_user):
    split, agreed = make_items(sprint, 2)
    ada, bo = people(sprint, make_user, ["ada", "bo"])
    vote(split, ada, ["a", "b"])
    vote(split, bo, ["b", "a"])
    vote(agreed, ada, ["b", "a"])
    vote(agreed, bo, ["b", "a"])
    counts = compute_consensus(sprint, method="unanimous")
    assert counts["labelled"] == 1 and counts["undecided"] == 1
    assert set(labels(sprint)) == {agreed.pk}
    assert labels(sprint)[agreed.pk].confidence == 1.0
    with pytest.raises(UnknownMethod):
        compute_consensus(sprint, method="adjudicated")


def test_likert_means_flag_shares_and_revisions(sprint, make_user):
    Criterion.objects.create(
        rubric=sprint.rubric, name="unsafe", kind=CriterionKind.FLAG, question="Unsafe?"
    )
    (item,) = make_items(sprint, 1)
    ada, bo = people(sprint, make_user, ["ada", "bo"])
    vote(item, ada, ["a", "b"], helpfulness={"a": 5, "b": 2})
    old = vote(item, bo, ["b", "a"], helpfulness={"a": 1, "b": 1})
    new = vote(item, bo, ["a", "b"], helpfulness={"a": 4, "b": 3})
    compute_consensus(sprint)
    label = labels(sprint)[item.pk]
    assert old.pk not in label.judgment_ids and new.pk in label.judgment_ids
    assert label.method == "unanimous" and label.ranking == ["a", "b"]
    assert label.answers["helpfulness"] == {"a": 4.5, "b": 2.5}
    assert "unsafe" not in label.answers  # nobody answered it


def test_bradley_terry_labels_items_of_more_than_two_responses(sprint, make_user):
    (item,) = make_items(sprint, 1, keys="abcd")
    users = people(sprint, make_user, ["p", "q", "r"])
    for user, ranking in zip(users, ["cabd", "acbd", "cadb"], strict=True):
        vote(item, user, list(ranking))
    compute_consensus(sprint)
    label = labels(sprint)[item.pk]
    assert label.method == "bradley_terry"
    assert label.ranking == ["c", "a", "b", "d"]
    assert 0.5 < label.confidence < 1
    assert label.agreement == pytest.approx(item_pairs_agreeing(), abs=1e-6)


def item_pairs_agreeing() -> float:
    # cabd, acbd, cadb: pairs (a,c) 1/3 agree, (b,d) 1/3, others 3/3 -> (1+1+4*3)/18
    return (1 + 1 + 4 * 3) / 18


def test_recompute_of_a_settled_sprint_writes_nothing(sprint, make_user):
    items = make_items(sprint, 4)
    users = people(sprint, make_user, ["a1", "a2", "a3"])
    bulk_votes(items, users, [[["a", "b"], ["a", "b"], ["b", "a"]]] * 4)
    assert compute_consensus(sprint)["written"] == 4
    stamps = {label.item_id: label.updated_at for label in labels(sprint).values()}
    again = compute_consensus(sprint)
    assert again["written"] == 0 and again["labelled"] == 4
    assert {label.item_id: label.updated_at for label in labels(sprint).values()} == stamps


@pytest.mark.parametrize("size", [3, COPY_FROM_ROWS + 2], ids=["executemany", "copy"])
def test_a_recompute_never_replaces_a_label_written_after_it_read(sprint, make_user, size):
    """A per-item refresh that lands while a sprint-wide recompute runs saw a newer judgment;
    the recompute, which read before it, must not put its older answer back."""
    items = make_items(sprint, size)
    users = people(sprint, make_user, ["a1", "a2", "a3"])
    bulk_votes(items, users, [[["a", "b"], ["a", "b"], ["a", "b"]]] * size)
    compute_consensus(sprint)
    read_at = timezone.now()
    stale = [
        {"item_id": label.item_id, **{name: getattr(label, name) for name in CONTENT}}
        for label in ConsensusLabel.objects.filter(sprint=sprint).order_by("item_id")
    ]
    fresh = items[0]
    ConsensusLabel.objects.filter(item=fresh).update(
        ranking=["b", "a"], method="majority", updated_at=timezone.now()
    )
    others = [label["item_id"] for label in stale[1:]]
    ConsensusLabel.objects.filter(item_id__in=others).update(ranking=["b", "a"])
    written = upsert_labels(stale, sprint.pk, read_at=read_at)
    assert written == size - 1  # every older label is put right, the newer one is kept
    assert ConsensusLabel.objects.get(item=fresh).ranking == ["b", "a"]
    rankings = ConsensusLabel.objects.filter(item_id__in=others).values_list("ranking", flat=True)
    assert list(rankings) == [["a", "b"]] * (size - 1)


def test_adjudicated_label_survives_a_recompute(sprint, make_user):
    (item,) = make_items(sprint, 1)
    users = people(sprint, make_user, ["a1", "a2", "a3"])
    for user in users:
        vote(item, user, ["a", "b"])
    ConsensusLabel.objects.create(
        sprint=sprint, item=item, ranking=["b", "a"], method="adjudicated", confidence=1.0
    )
    counts = compute_consensus(sprint)
    assert counts["adjudicated"] == 1 and counts["written"] == 0
    refresh_item_consensus(item)
    label = ConsensusLabel.objects.get(item=item)
    assert label.method == "adjudicated" and label.ranking == ["b", "a"]


def test_gold_items_teach_dawid_skene(sprint, make_user):
    items = make_items(sprint, 3)
    ada, bo = people(sprint, make_user, ["ada", "bo"])
    make_gold(items[0], ["a", "b"])
    vote(items[0], ada, ["a", "b"])
    vote(items[0], bo, ["b", "a"])
    compute_consensus(sprint)
    fit = DawidSkeneFit.objects.get(sprint=sprint)
    # Against the gold answer, bo is wrong and ada right.
    # confusions[annotator][answer][truth], classes "0>1" (a better), "1>0", "tie".
    assert fit.confusions[str(ada.pk)][0][0] > 0.99
    assert fit.confusions[str(bo.pk)][1][0] > 0.99


def test_per_item_refresh_uses_the_stored_fit_in_a_few_queries(sprint, make_user):
    items = make_items(sprint, 30)
    users = people(sprint, make_user, ["u1", "u2", "u3", "bad"])
    truth = np.random.default_rng(4).integers(0, 2, len(items))
    bulk_votes(items, users, simulated_pair_votes(truth, [0.9, 0.85, 0.8, 0.05], seed=5))
    compute_consensus(sprint)
    (fresh,) = make_items(sprint, 1, prefix="fresh")
    # Two good annotators say a, the one the fit knows to be backwards and one more say b.
    vote(fresh, users[0], ["a", "b"])
    vote(fresh, users[3], ["b", "a"])
    with CaptureQueriesContext(connection) as queries:
        row = refresh_item_consensus(fresh)
    assert len(queries) <= 8
    assert row["ranking"] == ["a", "b"] and row["method"] == "dawid_skene"
    assert row["confidence"] > 0.9
    assert ConsensusLabel.objects.get(item=fresh).method == "dawid_skene"


def test_items_without_votes_get_no_label(sprint, make_user):
    make_items(sprint, 2)
    assert compute_consensus(sprint) == {
        "items": 0,
        "labelled": 0,
        "written": 0,
        "adjudicated": 0,
        "undecided": 0,
        "methods": {},
    }
    assert not ConsensusLabel.objects.exists()


def test_ties(sprint, make_user):
    (item,) = make_items(sprint, 1)
    users = people(sprint, make_user, ["a1", "a2", "a3"])
    vote(item, users[0], tie=True)
    vote(item, users[1], tie=True)
    vote(item, users[2], ["a", "b"])
    compute_consensus(sprint)
    label = labels(sprint)[item.pk]
    assert label.tie is True and label.ranking == [] and label.strength is None
    assert label.method == "majority"


def test_a_sprint_without_items_or_without_votes_labels_nothing(sprint, make_user):
    for method in ("auto", "majority", "dawid_skene", "bradley_terry"):
        counts = compute_consensus(sprint, method=method)
        assert counts == {
            "items": 0, "labelled": 0, "written": 0, "adjudicated": 0, "undecided": 0,
            "methods": {},
        }  # fmt: skip
    (item,) = make_items(sprint, 1, keys="abc")
    (ada,) = people(sprint, make_user, ["ada"])
    vote(item, ada, ["a", "z", "b"])  # not a permutation of the responses: no vote
    assert compute_consensus(sprint)["labelled"] == 0
    assert not ConsensusLabel.objects.filter(sprint=sprint).exists()


def test_labels_written_in_bulk_keep_every_character_and_number(sprint):
    """Enough rows for PostgreSQL's COPY path: keys with a backslash, a quote, a tab, a newline
    and a non-ASCII letter, a null strength and agreement, a float confidence, come back as
    written (SQLite writes the same rows through its plain statement)."""
    items = make_items(sprint, COPY_FROM_ROWS + 5)
    odd = ["a\\b", 'q"t', "t\tn\nl", "é☃"]
    answers = {"helpfulness": {odd[0]: 4.5, odd[3]: 1.0}}
    rows = [
        {
            "item_id": item.pk,
            "ranking": odd if n % 2 else [],
            "tie": not n % 2,
            "strength": None if n % 3 else 2.5,
            "answers": answers,
            "method": "majority",
            "confidence": 0.123456,
            "agreement": None if n % 5 else 0.5,
            "judgment_ids": [n, 7],
        }
        for n, item in enumerate(items)
    ]
    assert upsert_labels(rows, sprint.pk) == len(rows)
    stored = {label.item_id: label for label in ConsensusLabel.objects.filter(sprint=sprint)}
    for row in rows:
        label = stored[row["item_id"]]
        assert [
            label.ranking, label.tie, label.strength, label.answers, label.method,
            label.confidence, label.agreement, label.judgment_ids,
        ] == [row[name] for name in CONTENT]  # fmt: skip
    assert upsert_labels(rows, sprint.pk) == 0  # unchanged: nothing rewritten
