"""The assignment queue's rules, through the service."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Item, SprintMember
from annotation.services.assignments import release_expired_leases
from annotation.services.judgments import skip_assignment, submit_judgment
from annotation.services.queue import NotAMember, QueueClosed, next_assignment
from tests.annotation.labeling_fixtures import add_items, good_answers, join, lease_item

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


def test_each_new_lease_moves_the_members_cursor_to_its_item(sprint, people):
    items = add_items(sprint, 3)
    for expected in items[:2]:
        assignment = next_assignment(sprint, people[0])
        assert assignment.item_id == expected.pk
        member = SprintMember.objects.get(sprint=sprint, user=people[0])
        assert member.queue_cursor == expected.pk
        finish(people[0], assignment, f"k-{expected.pk}")


def test_an_item_full_of_live_leases_but_not_marked_is_passed_over_and_marked(sprint, people):
    sprint.overlap_k = 2
    sprint.save()
    crowded, free = add_items(sprint, 2)
    for user in people[:2]:  # leases made outside the queue, so is_full was never set
        lease_item(crowded, user)
    assert not Item.objects.get(pk=crowded.pk).is_full
    assignment = next_assignment(sprint, people[2])
    assert assignment.item_id == free.pk
    assert Item.objects.get(pk=crowded.pk).is_full
    assert Assignment.objects.filter(item=crowded).count() == 2


def test_a_lapsed_lease_met_by_the_queue_is_marked_released(sprint, people):
    sprint.overlap_k = 2
    sprint.save()
    (item,) = add_items(sprint, 1)
    lapsed = next_assignment(sprint, people[0])
    later = timezone.now() + timedelta(minutes=sprint.lease_minutes + 1)
    taken = [next_assignment(sprint, user, now=later) for user in people[1:3]]
    assert [a.item_id for a in taken] == [item.pk, item.pk]
    assert Assignment.objects.get(pk=lapsed.pk).status == "released"
    assert {a.status for a in Assignment.objects.filter(pk__in=[a.pk for a in taken])} == {"leased"}
    assert Item.objects.get(pk=item.pk).is_full
    assert next_assignment(sprint, people[3], now=later) is None


def test_the_sprint_may_be_given_by_id_and_comes_back_loaded(sprint, people):
    add_items(sprint, 1)
    assignment = next_assignment(sprint.pk, people[0])
    assert assignment.sprint == sprint
    assert assignment.sprint.rubric == sprint.rubric
    assert next_assignment(sprint.pk, people[0]).pk == assignment.pk


def test_no_membership_or_no_sprint_is_not_a_member(sprint, make_user):
    add_items(sprint, 1)
    with pytest.raises(NotAMember):
        next_assignment(sprint, make_user("stranger"))
    (member,) = join(sprint, make_user("member"))
    with pytest.raises(NotAMember):
        next_assignment(999_999, member)
    assert not Assignment.objects.exists()
