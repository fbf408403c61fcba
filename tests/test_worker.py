"""Expired leases go back to the pool: the service on its own, and the task run by a real
Celery worker process through the configured broker."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Item, Response
from annotation.models.judgments import AssignmentStatus
from annotation.services.assignments import release_expired_leases
from annotation.tasks import release_expired_leases as release_expired_leases_task


@pytest.fixture
def make_assignment(sprint, make_user):
    counter = iter(range(1, 1000))

    def make(*, expires_in: timedelta, status: str = AssignmentStatus.LEASED) -> Assignment:
        n = next(counter)
        item = Item.objects.create(
            sprint=sprint,
            external_id=f"item-{n}",
            prompt="How do I reset my password?",
            content_sha256=f"{n:064x}",
        )
        for position, key in enumerate("ab"):
            Response.objects.create(item=item, key=key, text=f"answer {key}", position=position)
        now = timezone.now()
        expires_at = now + expires_in
        return Assignment.objects.create(
            sprint=sprint,
            item=item,
            annotator=make_user(f"annotator-{n}"),
            status=status,
            leased_at=min(now, expires_at) - timedelta(minutes=30),
            lease_expires_at=expires_at,
        )

    return make


def _status(assignment: Assignment) -> str:
    return Assignment.objects.values_list("status", flat=True).get(pk=assignment.pk)


@pytest.mark.django_db
def test_expired_lease_is_released_and_live_lease_kept(make_assignment):
    expired = make_assignment(expires_in=timedelta(minutes=-1))
    live = make_assignment(expires_in=timedelta(minutes=10))

    assert release_expired_leases() == 1

    assert _status(expired) == AssignmentStatus.RELEASED
    assert _status(live) == AssignmentStatus.LEASED


@pytest.mark.django_db
def test_finished_assignments_are_untouched(make_assignment):
    submitted = make_assignment(expires_in=timedelta(hours=-1), status=AssignmentStatus.SUBMITTED)
    skipped = make_assignment(expires_in=timedelta(hours=-1), status=AssignmentStatus.SKIPPED)

    assert release_expired_leases() == 0

    assert _status(submitted) == AssignmentStatus.SUBMITTED
    assert _status(skipped) == AssignmentStatus.SKIPPED


@pytest.mark.django_db
def test_released_items_go_back_to_the_queue(make_assignment):
    expired = make_assignment(expires_in=timedelta(minutes=-1))
    live = make_assignment(expires_in=timedelta(minutes=10))
    Item.objects.filter(pk__in=[expired.item_id, live.item_id]).update(is_full=True)

    release_expired_leases()

    assert Item.objects.get(pk=expired.item_id).is_full is False
    assert Item.objects.get(pk=live.item_id).is_full is True


@pytest.mark.django_db
def test_release_uses_the_given_time_and_is_idempotent(make_assignment):
    lease = make_assignment(expires_in=timedelta(minutes=10))

    assert release_expired_leases(now=timezone.now() + timedelta(minutes=5)) == 0
    assert release_expired_leases(now=timezone.now() + timedelta(minutes=11)) == 1
    assert release_expired_leases(now=timezone.now() + timedelta(minutes=11)) == 0
    assert _status(lease) == AssignmentStatus.RELEASED


def test_beat_runs_the_task_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["release-expired-leases"]
    assert entry["task"] == release_expired_leases_task.name
    assert entry["schedule"] == 60.0


@pytest.mark.worker
def test_real_worker_releases_expired_lease(celery_worker_process, make_assignment):
    expired = make_assignment(expires_in=timedelta(minutes=-5))
    live = make_assignment(expires_in=timedelta(minutes=10))

    release_expired_leases_task.delay()

    deadline = time.monotonic() + 60
    while _status(expired) != AssignmentStatus.RELEASED:
        assert celery_worker_process.alive, celery_worker_process.log_tail()
        if time.monotonic() > deadline:
            pytest.fail(
                "the worker did not release the lease within 60 s; its log:\n"
                + celery_worker_process.log_tail()
            )
        time.sleep(0.2)
    assert _status(live) == AssignmentStatus.LEASED
