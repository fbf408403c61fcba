"""Rubrics in the admin: editable until a judgment answers them, then frozen and versioned."""

import json

import pytest
from django.urls import reverse

from annotation.models import AuditEvent, Criterion, Rubric

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen_rubric(rubric, sprint, annotator, make_items, make_judgment):
    [item] = make_items(sprint, "f-1")
    make_judgment(item, annotator)
    assert rubric.is_frozen
    return rubric


def change_url(rubric) -> str:
    return reverse("admin:annotation_rubric_change", args=[rubric.pk])


def criteria_of(rubric) -> list[tuple]:
    return list(rubric.criteria.values_list("name", "kind", "question", "required", "config"))


def form_data(rubric, **overrides) -> dict:
    """The rubric change form as the browser would post it, criteria included."""
    criteria = list(rubric.criteria.all())
    data = {
        "name": rubric.name,
        "guidelines": rubric.guidelines,
        "criteria-TOTAL_FORMS": str(len(criteria)),
        "criteria-INITIAL_FORMS": str(len(criteria)),
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "1000",
    }
    for index, c in enumerate(criteria):
        data.update(
            {
                f"criteria-{index}-id": str(c.pk),
                f"criteria-{index}-rubric": str(rubric.pk),
                f"criteria-{index}-name": c.name,
                f"criteria-{index}-kind": c.kind,
                f"criteria-{index}-question": c.question,
                f"criteria-{index}-help_text": c.help_text,
                f"criteria-{index}-position": str(c.position),
                f"criteria-{index}-config": json.dumps(c.config),
            }
        )
        if c.required:
            data[f"criteria-{index}-required"] = "on"
    data.update(overrides)
    return data


def add_criterion(data: dict, **fields) -> dict:
    index = int(data["criteria-TOTAL_FORMS"])
    data["criteria-TOTAL_FORMS"] = str(index + 1)
    for name, value in fields.items():
        data[f"criteria-{index}-{name}"] = value
    return data


def test_unfrozen_rubric_is_editable_and_audited(lead_client, rubric, staff_lead):
    page = lead_client.get(change_url(rubric))
    assert 'name="name"' in page.text
    assert 'id="rubric-frozen"' not in page.text

    response = lead_client.post(change_url(rubric), form_data(rubric, guidelines="Be strict."))
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    rubric.refresh_from_db()
    assert rubric.guidelines == "Be strict."
    event = AuditEvent.objects.get(action="rubric.changed")
    assert event.actor == staff_lead
    assert event.changes == {
        "guidelines": {"from": "Prefer correct, grounded answers.", "to": "Be strict."}
    }


def test_adding_a_criterion_is_audited(lead_client, rubric):
    data = add_criterion(
        form_data(rubric),
        name="unsafe",
        kind="flag",
        question="Unsafe?",
        position="5",
        config="{}",
        required="on",
    )
    response = lead_client.post(change_url(rubric), data)
    assert response.status_code == 302
    assert rubric.criteria.filter(name="unsafe", kind="flag").exists()
    event = AuditEvent.objects.get(action="criterion.added")
    assert event.changes["name"] == "unsafe" and event.changes["rubric"] == rubric.pk


def test_bad_criterion_config_is_refused(lead_client, rubric):
    data = add_criterion(
        form_data(rubric),
        name="tone",
        kind="likert",
        question="Tone?",
        position="5",
        config='{"min": 5, "max": 1}',
    )
    response = lead_client.post(change_url(rubric), data)
    assert response.status_code == 200
    assert "max must be greater than min" in response.text
    assert not rubric.criteria.filter(name="tone").exists()


def test_second_preference_criterion_is_refused(lead_client, rubric):
    data = add_criterion(
        form_data(rubric),
        name="overall",
        kind="preference",
        question="Which is better?",
        position="5",
        config="{}",
    )
    response = lead_client.post(change_url(rubric), data)
    assert response.status_code == 200
    assert "exactly one preference criterion" in response.text
    assert rubric.criteria.count() == 2


def test_frozen_rubric_change_form_is_read_only(lead_client, frozen_rubric):
    page = lead_client.get(change_url(frozen_rubric))
    assert page.status_code == 200
    assert 'id="rubric-frozen"' in page.text
    assert 'name="name"' not in page.text
    assert 'name="criteria-0-question"' not in page.text
    assert 'name="_save"' not in page.text
    assert 'class="rubric-new-version"' in page.text

    response = lead_client.post(change_url(frozen_rubric), form_data(frozen_rubric, name="x"))
    assert response.status_code == 403
    frozen_rubric.refresh_from_db()
    assert frozen_rubric.name == "Support answers"


def test_new_version_button_creates_v2_with_the_same_criteria(
    lead_client, frozen_rubric, staff_lead
):
    url = reverse("admin:annotation_rubric_new_version", args=[frozen_rubric.pk])
    assert lead_client.get(url).status_code == 405
    response = lead_client.post(url)
    v2 = Rubric.objects.get(name=frozen_rubric.name, version=2)
    assert response.status_code == 302
    assert response["Location"] == change_url(v2)
    assert v2.previous == frozen_rubric
    assert criteria_of(v2) == criteria_of(frozen_rubric)
    assert not v2.is_frozen
    assert AuditEvent.objects.filter(action="rubric.revised", actor=staff_lead).exists()

    # v2 is editable; the old version no longer offers a new version.
    assert 'name="name"' in lead_client.get(change_url(v2)).text
    old_page = lead_client.get(change_url(frozen_rubric)).text
    assert 'class="rubric-new-version"' not in old_page
    assert "A newer version, v2" in old_page
    again = lead_client.post(url, follow=True)
    assert "already has a newer version" in again.text
    assert Rubric.objects.filter(name=frozen_rubric.name).count() == 2


def test_new_version_action(lead_client, frozen_rubric):
    response = lead_client.post(
        reverse("admin:annotation_rubric_changelist"),
        {"action": "create_new_version", "_selected_action": [frozen_rubric.pk]},
    )
    assert response.status_code == 302
    v2 = Rubric.objects.get(name=frozen_rubric.name, version=2)
    assert Criterion.objects.filter(rubric=v2).count() == frozen_rubric.criteria.count()


def test_rubric_changelist_shows_frozen_state(lead_client, frozen_rubric):
    page = lead_client.get(reverse("admin:annotation_rubric_changelist"))
    cl = page.context["cl"]
    [row] = cl.result_list
    assert row.frozen is True
    assert row.criteria_total == 2


def test_new_rubric_with_an_existing_name_is_a_form_error(lead_client, rubric):
    data = {
        "name": rubric.name,
        "guidelines": "",
        "criteria-TOTAL_FORMS": "0",
        "criteria-INITIAL_FORMS": "0",
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "1000",
    }
    response = lead_client.post(reverse("admin:annotation_rubric_add"), data)
    assert response.status_code == 200
    assert "already exists" in response.text


def test_lead_created_rubric_records_creator(lead_client, staff_lead):
    data = add_criterion(
        {
            "name": "Finance answers",
            "guidelines": "",
            "criteria-TOTAL_FORMS": "0",
            "criteria-INITIAL_FORMS": "0",
            "criteria-MIN_NUM_FORMS": "0",
            "criteria-MAX_NUM_FORMS": "1000",
        },
        name="preference",
        kind="preference",
        question="Better?",
        position="0",
        config='{"allow_tie": false}',
        required="on",
    )
    response = lead_client.post(reverse("admin:annotation_rubric_add"), data)
    assert response.status_code == 302
    rubric = Rubric.objects.get(name="Finance answers")
    assert rubric.created_by == staff_lead
    assert AuditEvent.objects.filter(action="rubric.created", object_id=str(rubric.pk)).exists()
