"""The finer points of opening disputes (the basic four rules, one dispute per item and the
resolution are in test_disputes_service.py): split versus low agreement, the first choice of
rankings of N > 2, flag criteria, settled evidence, the sweep extending a dispute, and the
signals that enqueue the review once the transaction commits."""

from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from annotation.models import Criterion, CriterionKind, ItemFlag
from reviews.models import ConsensusLabel, Dispute
from reviews.services.disputes import review_item, review_sprint
from tests.reviews.dispute_fixtures import make_gold, make_items, people, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def trio(sprint, make_user):
    """Three annotators; the sprint wants three judgments per item and agreement of 0.5."""
    sprint.overlap_k = 3
    sprint.agreement_threshold = 0.5
    sprint.save()
    return people(sprint, make_user, ["ada", "bo", "cy"])


def reasons(item) -> list[str] | None:
    dispute = Dispute.objects.filter(item=item, status="open").first()
    return dispute.reasons if dispute else None


def test_a_two_to_one_vote_under_the_threshold_is_low_agreement_not_split(sprint, trio):
    (item,) = make_items(sprint, 1)
    vote(item, trio[0], ["a", "b"])
    vote(item, trio[1], ["a", "b"])
    vote(item, trio[2], ["b", "a"])
    # 1 of 3 annotator pairs agree: 0.33 < 0.5; but 2 of 3 is a majority.
    assert review_item(item.pk).reasons == ["low_agreement"]


def test_split_of_n_responses_looks_at_the_first_choice(sprint, trio):
    sprint.agreement_threshold = 0.0
    sprint.save()
    agreed_first, split_first = make_items(sprint, 2, keys="abc")
    for user, ranking in zip(trio, ["abc", "acb", "abc"], strict=True):
        vote(agreed_first, user, list(ranking))
    for user, ranking in zip(trio, ["abc", "bac", "cab"], strict=True):
        vote(split_first, user, list(ranking))
    assert review_item(agreed_first.pk) is None
    assert review_item(split_first.pk).reasons == ["split"]


def test_a_flag_opens_at_once_and_a_flag_criterion_does_not(sprint, trio):
    Criterion.objects.create(
        rubric=sprint.rubric, name="unsafe", kind=CriterionKind.FLAG, question="Unsafe?"
    )
    flagged, marked = make_items(sprint, 2)
    ItemFlag.objects.create(sprint=sprint, item=flagged, annotator=trio[0], reason="no prompt")
    assert review_item(flagged.pk).reasons == ["flagged"]
    vote(marked, trio[0], ["a", "b"], extra={"unsafe": {"a": True, "b": False}})
    assert review_item(marked.pk) is None
    assert ConsensusLabel.objects.get(item=marked).answers["unsafe"] == {"a": 1.0, "b": 0.0}


def test_a_settled_dispute_is_not_reopened_by_old_evidence_but_by_new(sprint, trio):
    (item,) = make_items(sprint, 1)
    ItemFlag.objects.create(sprint=sprint, item=item, annotator=trio[0], reason="broken")
    dispute = review_item(item.pk)
    Dispute.objects.filter(pk=dispute.pk).update(status="void", resolved_at=timezone.now())
    assert review_item(item.pk) is None
    ItemFlag.objects.filter(item=item).update(created_at=timezone.now() + timedelta(seconds=1))
    reopened = review_item(item.pk)
    assert reopened is not None and reopened.pk != dispute.pk
    assert Dispute.objects.filter(item=item, status="open").count() == 1


def test_the_sweep_extends_an_open_dispute(sprint, trio):
    (item,) = make_items(sprint, 1)
    make_gold(item, ["a", "b"])
    vote(item, trio[0], ["b", "a"])
    review_item(item.pk)
    ItemFlag.objects.create(sprint=sprint, item=item, annotator=trio[1], reason="odd")
    counts = review_sprint(sprint)
    assert counts == {**counts, "opened": 0, "extended": 1}
    assert reasons(item) == ["gold_failed", "flagged"]


def test_review_of_an_unknown_item_is_harmless():
    assert review_item(987654) is None


@pytest.fixture
def eager_celery():
    """Tasks run in the test's process when enqueued (the real worker is tested in
    test_disputes_worker.py); here the wiring from save to task is what is checked."""
    before = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = before


def test_saving_a_judgment_or_flag_reviews_the_item_after_commit(
    sprint, trio, eager_celery, django_capture_on_commit_callbacks
):
    (item,) = make_items(sprint, 1)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        ItemFlag.objects.create(sprint=sprint, item=item, annotator=trio[0], reason="broken")
    assert len(pending) == 1 and not Dispute.objects.exists()  # nothing before the commit
    with django_capture_on_commit_callbacks(execute=True):
        ItemFlag.objects.create(sprint=sprint, item=item, annotator=trio[1], reason="again")
    assert reasons(item) == ["flagged"]
    with django_capture_on_commit_callbacks(execute=True) as ran:
        vote(item, trio[0], ["a", "b"])
    assert len(ran) == 1
    assert ConsensusLabel.objects.get(item=item).method == "majority"
