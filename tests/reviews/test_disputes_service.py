"""Opening, extending, resolving and voiding disputes through the services, on judgments stored
in the database: each of the four rules opens one, nothing opens otherwise, one open dispute
per item, and a resolution is an adjudicated label that no recompute replaces."""

import pytest
from django.db import IntegrityError, transaction

from annotation.models import AuditEvent, ItemFlag, Sprint, SprintMember, SprintRole
from reviews.models import ConsensusLabel, Dispute, DisputeStatus
from reviews.services.consensus import compute_consensus
from reviews.services.disputes import (
    DisputeRejected,
    resolve_dispute,
    review_item,
    review_sprint,
    void_dispute,
)
from tests.reviews.dispute_fixtures import bulk_votes, make_gold, make_items, people, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def trio(sprint, make_user):
    return people(sprint, make_user, ["ada", "bo", "cy"])


def open_disputes(sprint) -> dict[int, list[str]]:
    return {d.item_id: d.reasons for d in Dispute.objects.filter(sprint=sprint, status="open")}


def flag(item, user, reason="The question is cut off") -> ItemFlag:
    return ItemFlag.objects.create(sprint=item.sprint, item=item, annotator=user, reason=reason)


def test_a_split_vote_opens_a_dispute_once_k_judgments_are_in(sprint, trio):
    Sprint.objects.filter(pk=sprint.pk).update(agreement_threshold=0.0)
    sprint.refresh_from_db()
    (item,) = make_items(sprint, 1)
    vote(item, trio[0], ["a", "b"])
    vote(item, trio[1], ["b", "a"])
    assert review_item(item.pk) is None, "two of three judgments: too early to call a split"
    vote(item, trio[2], tie=True)
    dispute = review_item(item.pk)
    assert dispute is not None and dispute.reasons == ["split"]
    assert open_disputes(sprint) == {item.pk: ["split"]}


def test_low_item_agreement_opens_a_dispute(sprint, trio):
    (item,) = make_items(sprint, 1)
    for user, ranking in zip(trio, (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
        vote(item, user, ranking)
    # A majority exists (2 of 3), but only 1 of 3 pairs agree: under the sprint's 0.67.
    assert review_item(item.pk).reasons == ["low_agreement"]


def test_a_failed_gold_item_opens_a_dispute_at_once(sprint, trio):
    (item,) = make_items(sprint, 1)
    make_gold(item, ["b", "a"])
    vote(item, trio[0], ["b", "a"])
    assert review_item(item.pk) is None
    vote(item, trio[1], ["a", "b"])
    assert review_item(item.pk).reasons == ["gold_failed"]


def test_nothing_opens_when_judgments_agree(sprint, trio):
    agreed, gold, early = make_items(sprint, 3)
    make_gold(gold, ["a", "b"])
    for user in trio:
        vote(agreed, user, ["b", "a"], strength=2)
        vote(gold, user, ["a", "b"])
    vote(early, trio[0], ["a", "b"])
    vote(early, trio[1], ["b", "a"])
    for item in (agreed, gold, early):
        assert review_item(item.pk) is None
    assert review_sprint(sprint)["opened"] == 0
    assert not Dispute.objects.exists()
    assert ConsensusLabel.objects.filter(sprint=sprint).count() == 3


def test_reasons_accumulate_on_the_one_open_dispute(sprint, trio):
    (item,) = make_items(sprint, 1)
    make_gold(item, ["a", "b"])
    flag(item, trio[0])
    first = review_item(item.pk)
    for user, ranking in zip(trio, (["a", "b"], ["b", "a"], ["b", "a"]), strict=True):
        vote(item, user, ranking)
    again = review_item(item.pk)
    assert again.pk == first.pk
    assert again.reasons == ["low_agreement", "gold_failed", "flagged"]
    assert Dispute.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.create(sprint=sprint, item=item, reasons=["split"])


def test_the_sweep_opens_what_the_per_item_rule_would(sprint, make_user):
    items = make_items(sprint, 6)
    users = people(sprint, make_user, ["u1", "u2", "u3"])
    agree, disagree = [["a", "b"]] * 3, [["a", "b"], ["b", "a"], ["b", "a"]]
    bulk_votes(items, users, [agree, disagree, agree, disagree, agree, agree])
    make_gold(items[4], ["b", "a"])
    flag(items[5], users[0])

    result = review_sprint(sprint)

    assert result["opened"] == 4 and result["consensus"]["labelled"] == 6
    assert open_disputes(sprint) == {
        items[1].pk: ["low_agreement"],
        items[3].pk: ["low_agreement"],
        items[4].pk: ["gold_failed"],
        items[5].pk: ["flagged"],
    }
    assert review_sprint(sprint)["opened"] == 0, "a second sweep opens nothing more"
    assert all(review_item(item.pk) is None for item in (items[0], items[2]))


def test_resolve_writes_an_adjudicated_label_and_an_audit_event(sprint, trio, reviewer):
    (item,) = make_items(sprint, 1)
    for user, ranking in zip(trio, (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
        vote(item, user, ranking, helpfulness={"a": 4, "b": 2})
    dispute = review_item(item.pk)
    assert ConsensusLabel.objects.get(item=item).ranking == ["a", "b"]

    label = resolve_dispute(dispute, reviewer, ["b", "a"], "  Response a cites the wrong plan. ")

    assert label.method == "adjudicated" and label.ranking == ["b", "a"]
    assert label.confidence == 1.0 and len(label.judgment_ids) == 3
    assert label.answers["helpfulness"] == {"a": 4.0, "b": 2.0}
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.RESOLVED and dispute.resolved_by == reviewer
    assert dispute.final_ranking == ["b", "a"]
    assert dispute.rationale == "Response a cites the wrong plan."
    event = AuditEvent.objects.get(action="dispute.resolved")
    assert event.actor == reviewer and event.object_id == str(dispute.pk)
    assert event.sprint == sprint and event.changes["ranking"] == ["b", "a"]
    assert event.changes["previous_label"]["ranking"] == ["a", "b"]


def test_an_adjudicated_label_survives_recomputes_and_new_judgments(sprint, trio, reviewer):
    (item,) = make_items(sprint, 1)
    flag(item, trio[0])
    dispute = review_item(item.pk)
    for user in trio:
        vote(item, user, ["a", "b"])
    resolve_dispute(dispute, reviewer, ["b", "a"], "The item's gold text was wrong.")
    compute_consensus(sprint)
    compute_consensus(sprint, method="majority")
    review_item(item.pk)
    review_sprint(sprint)
    label = ConsensusLabel.objects.get(item=item)
    assert label.method == "adjudicated" and label.ranking == ["b", "a"]
    assert not Dispute.objects.filter(status="open").exists(), "settled evidence stays settled"


def test_new_evidence_after_a_resolution_opens_a_new_dispute(sprint, trio, reviewer):
    (item,) = make_items(sprint, 1)
    flag(item, trio[0])
    first = review_item(item.pk)
    resolve_dispute(first, reviewer, ["a", "b"], "Fine as it is.")
    assert review_item(item.pk) is None
    flag(item, trio[1], "Response b is in French")
    second = review_item(item.pk)
    assert second.pk != first.pk and second.reasons == ["flagged"]


@pytest.mark.parametrize(
    ("ranking", "rationale", "field"),
    [
        (["a"], "why", "ranking"),
        (["a", "b", "c"], "why", "ranking"),
        (["a", "a"], "why", "ranking"),
        ("ab", "why", "ranking"),
        (None, "why", "ranking"),
        (["a", "b"], "   ", "rationale"),
        (["a", "b"], None, "rationale"),
    ],
)
def test_bad_resolutions_store_nothing(sprint, trio, reviewer, ranking, rationale, field):
    (item,) = make_items(sprint, 1)
    flag(item, trio[0])
    dispute = review_item(item.pk)
    with pytest.raises(DisputeRejected) as rejected:
        resolve_dispute(dispute, reviewer, ranking, rationale)
    assert rejected.value.status == 400 and rejected.value.problems[0]["field"] == field
    dispute.refresh_from_db()
    assert dispute.status == "open" and dispute.final_ranking is None
    assert not ConsensusLabel.objects.filter(item=item).exists()
    assert not AuditEvent.objects.filter(action__startswith="dispute.").exists()


def test_only_reviewers_settle_and_only_open_disputes(sprint, trio, reviewer, annotator):
    (item,) = make_items(sprint, 1)
    flag(item, trio[0])
    dispute = review_item(item.pk)
    with pytest.raises(DisputeRejected) as refused:
        resolve_dispute(dispute, annotator, ["a", "b"], "I know best")
    assert refused.value.status == 403
    void_dispute(dispute, reviewer, "The flag was about a typo only.")
    with pytest.raises(DisputeRejected) as closed:
        resolve_dispute(dispute, reviewer, ["a", "b"], "late")
    assert closed.value.status == 409
    assert not ConsensusLabel.objects.filter(method="adjudicated").exists()


def test_void_closes_without_touching_the_label(sprint, trio, reviewer):
    (item,) = make_items(sprint, 1)
    for user in trio:
        vote(item, user, ["a", "b"])
    flag(item, trio[0])
    dispute = review_item(item.pk)
    before = ConsensusLabel.objects.get(item=item)
    void_dispute(dispute, reviewer, "The flag was about a typo only.")
    dispute.refresh_from_db()
    assert dispute.status == "void" and dispute.rationale == "The flag was about a typo only."
    after = ConsensusLabel.objects.get(item=item)
    assert (after.method, after.ranking) == (before.method, before.ranking)
    assert AuditEvent.objects.filter(action="dispute.voided", object_id=str(dispute.pk)).exists()
    with pytest.raises(DisputeRejected):
        void_dispute(dispute, reviewer, "")


def remove(user, sprint) -> None:
    SprintMember.objects.filter(sprint=sprint, user=user).delete()


@pytest.mark.parametrize("settle", ["resolve", "void"])
def test_a_removed_reviewer_settles_nothing(sprint, trio, reviewer, settle):
    (item,) = make_items(sprint, 1)
    flag(item, trio[0])
    dispute = review_item(item.pk)
    remove(reviewer, sprint)
    with pytest.raises(DisputeRejected) as refused:
        if settle == "resolve":
            resolve_dispute(dispute, reviewer, ["a", "b"], "I was a reviewer once")
        else:
            void_dispute(dispute, reviewer, "I was a reviewer once")
    assert refused.value.status == 404, "a non-member learns nothing of the dispute"
    dispute.refresh_from_db()
    assert dispute.status == "open" and dispute.resolved_by is None
    assert not ConsensusLabel.objects.filter(method="adjudicated").exists()
    assert not AuditEvent.objects.filter(action__startswith="dispute.").exists()


@pytest.mark.parametrize("settle", ["resolve", "void"])
def test_a_reviewer_demoted_to_annotator_settles_nothing(sprint, trio, reviewer, settle):
    (item,) = make_items(sprint, 1)
    flag(item, trio[0])
    dispute = review_item(item.pk)
    SprintMember.objects.filter(sprint=sprint, user=reviewer).update(role=SprintRole.ANNOTATOR)
    with pytest.raises(DisputeRejected) as refused:
        if settle == "resolve":
            resolve_dispute(dispute, reviewer, ["a", "b"], "still mine to settle?")
        else:
            void_dispute(dispute, reviewer, "still mine to settle?")
    assert refused.value.status == 403
    dispute.refresh_from_db()
    assert dispute.status == "open"
    assert not AuditEvent.objects.filter(action__startswith="dispute.").exists()
