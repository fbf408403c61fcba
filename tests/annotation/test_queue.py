"""The assignment queue's rules, through the service."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Item
from annotation.services.assignments import release_expired_leases
from annotation.services.judgments import skip_assignment, submit_judgment
from annotation.services.queue import QueueClosed, next_assignment
from tests.annotation.labeling_fixtures import add_items, good_answers, join

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user, sprint):
    return join(sprint, *(make_user(f"a{i}") for i in range(4)))


def finish(user, assignment, key):
    submit_judgment(user, assignment.pk, good_answers(), seconds=3, idempotency_key=key)


def test_asking_twice_returns_the_same_live_lease(sprint, people):
    add_items(sprint, 3)
    first = next_assignment(sprint, people[0])
    assert next_assignment(sprint, people[0]).pk == first.pk
    assert Assignment.objects.count() == 1


def test_no_item_beyond_k_and_never_twice_to_one_annotator(sprint, people):
    sprint.overlap_k = 2
    sprint.save()
    add_items(sprint, 3)
    served: dict[int, list[str]] = {}
    for round_ in range(4):
        for user in people:
            assignment = next_assignment(sprint, user)
            if assignment is None:
                continue
            served.setdefault(assignment.item_id, []).append(user.username)
            finish(user, assignment, f"{user.username}-{round_}")
    assert sorted(len(v) for v in served.values()) == [2, 2, 2]
    assert all(len(set(v)) == len(v) for v in served.values())
    assert all(next_assignment(sprint, user) is None for user in people)


def test_expired_lease_returns_the_item_to_the_pool(sprint, people):
    sprint.overlap_k = 1
    sprint.save()
    (item,) = add_items(sprint, 1)
    lease = next_assignment(sprint, people[0])
    assert lease.item_id == item.pk
    assert next_assignment(sprint, people[1]) is None  # the only slot is leased
    later = timezone.now() + timedelta(minutes=sprint.lease_minutes + 1)
    assert release_expired_leases(later) == 1
    again = next_assignment(sprint, people[1], now=later)
    assert again is not None and again.item_id == item.pk
    # The annotator whose lease lapsed is not handed the same item a second time.
    assert next_assignment(sprint, people[0], now=later) is None


def test_queue_releases_lapsed_leases_itself_when_it_meets_them(sprint, people):
    sprint.overlap_k = 2
    sprint.save()
    (item,) = add_items(sprint, 1)
    next_assignment(sprint, people[0])
    later = timezone.now() + timedelta(minutes=sprint.lease_minutes + 1)
    # k=2 leaves the item open; the queue recounts under lock and frees the lapsed slot.
    assert next_assignment(sprint, people[1], now=later).item_id == item.pk
    assert next_assignment(sprint, people[2], now=later).item_id == item.pk
    assert Item.objects.get(pk=item.pk).is_full


def test_skipped_item_is_never_offered_again_and_frees_its_slot(sprint, people):
    sprint.overlap_k = 1
    sprint.save()
    first, second = add_items(sprint, 2)
    lease = next_assignment(sprint, people[0])
    assert lease.item_id == first.pk
    skip_assignment(people[0], lease.pk, "I cannot judge medical advice")
    assert next_assignment(sprint, people[0]).item_id == second.pk
    assert next_assignment(sprint, people[1]).item_id == first.pk


def test_gold_mixed_in_once_per_annotator_and_not_limited_by_k(sprint, people):
    sprint.overlap_k = 1
    sprint.gold_rate = 1.0
    sprint.save()
    add_items(sprint, 2, gold=2)
    rng = random.Random(7)
    for user in people[:3]:
        got = []
        while (assignment := next_assignment(sprint, user, rng=rng)) is not None:
            got.append(assignment.item.is_gold)
            finish(user, assignment, f"{user.username}-{assignment.pk}")
        assert got.count(True) == 2  # every annotator meets each gold item once
    regular = Assignment.objects.filter(item__is_gold=False)
    assert regular.count() == 2  # k=1 still holds for regular items


def test_gold_rate_zero_never_serves_gold(sprint, people):
    add_items(sprint, 3, gold=3)
    seen = []
    while (assignment := next_assignment(sprint, people[0])) is not None:
        seen.append(assignment.item.is_gold)
        finish(people[0], assignment, str(assignment.pk))
    assert seen == [False, False, False]


def test_draft_sprint_hands_out_nothing(make_sprint, make_user):
    draft = make_sprint("drafty")
    (user,) = join(draft, make_user("x"))
    add_items(draft, 1)
    with pytest.raises(QueueClosed):
        next_assignment(draft, user)
