"""The data model's rules, enforced by the database itself."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.utils import DatabaseError

from annotation.models import (
    AuditEvent,
    Criterion,
    CriterionKind,
    Item,
    Judgment,
    Response,
    Rubric,
    Sprint,
    SprintMember,
)
from annotation.models.rubrics import FrozenRubricError
from annotation.services.audit import record_event
from annotation.services.rubrics import ensure_rubric_editable, revise_rubric, rubric_problems
from tests.annotation.labeling_fixtures import lease_item

pytestmark = pytest.mark.django_db


def make_item(sprint, external_id="t-1") -> Item:
    item = Item.objects.create(
        sprint=sprint, external_id=external_id, prompt="Q?", content_sha256="0" * 64
    )
    Response.objects.create(item=item, key="a", text="yes", position=0)
    Response.objects.create(item=item, key="b", text="no", position=1)
    return item


def make_judgment(assignment, key="k1", supersedes=None) -> Judgment:
    return Judgment.objects.create(
        sprint=assignment.sprint,
        item=assignment.item,
        assignment=assignment,
        annotator=assignment.annotator,
        rubric=assignment.sprint.rubric,
        answers={"preference": {"ranking": ["a", "b"]}},
        seconds=12.5,
        idempotency_key=key,
        supersedes=supersedes,
    )


def violates(callable_, *args, **kwargs):
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        callable_(*args, **kwargs)
    return True


def test_external_id_unique_within_a_sprint_only(sprint, other_sprint):
    make_item(sprint)
    assert violates(make_item, sprint)
    make_item(other_sprint)  # the same id in another sprint is fine


def test_response_keys_unique_per_item(sprint):
    item = make_item(sprint)
    assert violates(Response.objects.create, item=item, key="a", text="again", position=5)


def test_one_preference_criterion_per_rubric(rubric):
    assert violates(
        Criterion.objects.create,
        rubric=rubric,
        name="pref2",
        kind=CriterionKind.PREFERENCE,
        question="?",
    )


def test_criterion_kind_checked_by_the_database(rubric):
    assert violates(Criterion.objects.create, rubric=rubric, name="odd", kind="essay", question="?")


def test_rubric_name_and_version_unique(rubric):
    assert violates(Rubric.objects.create, name=rubric.name, version=1)


@pytest.mark.parametrize(
    "field, value",
    [
        ("overlap_k", 0),
        ("gold_rate", 1.5),
        ("gold_rate", -0.1),
        ("status", "paused"),
        ("lease_minutes", 0),
    ],
)
def test_sprint_checks(rubric, field, value):
    assert violates(Sprint.objects.create, name="S", slug="s", rubric=rubric, **{field: value})


def test_membership_unique_and_role_checked(sprint, make_user):
    user = make_user("u1")
    SprintMember.objects.create(sprint=sprint, user=user, role="annotator")
    assert violates(SprintMember.objects.create, sprint=sprint, user=user, role="reviewer")
    other = make_user("u2")
    assert violates(SprintMember.objects.create, sprint=sprint, user=other, role="boss")


def test_assignment_pair_unique(sprint, make_user):
    item, user = make_item(sprint), make_user("ann")
    lease_item(item, user)
    assert violates(lease_item, item, user)


def test_one_live_judgment_per_annotator_and_item(sprint, make_user):
    item, user = make_item(sprint), make_user("ann")
    assignment = lease_item(item, user)
    first = make_judgment(assignment, "k1")
    # A second original for the same pair is refused...
    assert violates(make_judgment, assignment, "k2")
    # ...a revision superseding the first is fine, and only once.
    second = make_judgment(assignment, "k3", supersedes=first)
    assert violates(make_judgment, assignment, "k4", supersedes=first)
    live = Judgment.objects.filter(item=item, annotator=user, superseded_by__isnull=True)
    assert list(live) == [second]


def test_idempotency_key_unique_per_annotator(sprint, make_user):
    item = make_item(sprint)
    user, other = make_user("ann"), make_user("ann2")
    make_judgment(lease_item(item, user), "same")
    assert violates(make_judgment, lease_item(make_item(sprint, "t-2"), user), "same")
    make_judgment(lease_item(item, other), "same")  # another annotator's key space


def test_judgments_cannot_be_updated(sprint, make_user):
    judgment = make_judgment(lease_item(make_item(sprint), make_user("ann")))
    judgment.answers = {"preference": {"ranking": ["b", "a"]}}
    assert violates(judgment.save)
    assert violates(Judgment.objects.filter(pk=judgment.pk).update, seconds=1)
    judgment.refresh_from_db()
    assert judgment.answers == {"preference": {"ranking": ["a", "b"]}}


def test_judged_items_cannot_be_deleted(sprint, make_user):
    item = make_item(sprint)
    make_judgment(lease_item(item, make_user("ann")))
    with pytest.raises(Exception, match="protected"):
        item.delete()


def test_audit_events_cannot_be_updated(sprint, lead):
    event = record_event(lead, "sprint.changed", sprint, sprint=sprint, changes={"k": [1, 2]})
    assert violates(AuditEvent.objects.filter(pk=event.pk).update, action="nothing")
    assert AuditEvent.objects.get(pk=event.pk).action == "sprint.changed"


def test_rubric_freezes_once_judged_and_revision_copies_criteria(sprint, rubric, make_user, lead):
    assert not rubric.is_frozen
    ensure_rubric_editable(rubric)
    make_judgment(lease_item(make_item(sprint), make_user("ann")))
    assert rubric.is_frozen
    with pytest.raises(FrozenRubricError):
        ensure_rubric_editable(rubric)
    v2 = revise_rubric(rubric, lead)
    assert (v2.name, v2.version, v2.previous) == (rubric.name, 2, rubric)
    assert list(v2.criteria.values_list("name", "kind")) == list(
        rubric.criteria.values_list("name", "kind")
    )
    with pytest.raises(FrozenRubricError, match="newer version"):
        revise_rubric(rubric, lead)
    assert AuditEvent.objects.filter(action="rubric.revised").count() == 1


def test_criterion_config_validation(rubric):
    bad = Criterion(
        rubric=rubric,
        name="score",
        kind=CriterionKind.LIKERT,
        question="?",
        config={"min": 5, "max": 1},
    )
    with pytest.raises(ValidationError, match="max must be greater"):
        bad.clean()
    assert rubric_problems(rubric) == []
    empty = Rubric.objects.create(name="Empty")
    assert rubric_problems(empty) == ["a rubric needs exactly one preference criterion"]
