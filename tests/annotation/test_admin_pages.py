"""Every admin page a lead uses loads, and people without staff access are sent to log in."""

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import AuditEvent, Item, Judgment

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(sprint, annotator, make_items, make_judgment):
    items = make_items(sprint, "p-1", "p-2")
    judgment = make_judgment(items[0], annotator)
    return {"item": items[0], "judgment": judgment}


def test_admin_index_lists_the_lead_models(lead_client):
    response = lead_client.get(reverse("admin:index"))
    assert response.status_code == 200
    for name in ("Sprints", "Rubrics", "Items", "Judgments", "Assignments", "Audit events"):
        assert name in response.text


@pytest.mark.parametrize(
    "model",
    ["rubric", "sprint", "item", "assignment", "judgment", "auditevent"],
)
def test_lead_loads_every_changelist(lead_client, populated, model):
    response = lead_client.get(reverse(f"admin:annotation_{model}_changelist"))
    assert response.status_code == 200


def test_lead_loads_every_change_form(lead_client, populated, sprint, rubric, staff_lead):
    judgment = populated["judgment"]
    objects = {
        "sprint": sprint,
        "rubric": rubric,
        "item": populated["item"],
        "assignment": judgment.assignment,
        "judgment": judgment,
        "auditevent": AuditEvent.objects.filter(sprint=sprint).first(),
    }
    for model, obj in objects.items():
        url = reverse(f"admin:annotation_{model}_change", args=[obj.pk])
        response = lead_client.get(url)
        assert response.status_code == 200, (model, response.status_code)
    assert lead_client.get(reverse("admin:annotation_sprint_add")).status_code == 200
    assert lead_client.get(reverse("admin:annotation_rubric_add")).status_code == 200


def test_item_change_form_is_read_only_and_escapes_imported_html(lead_client, sprint, make_items):
    [item] = make_items(sprint, "xss-1")
    response_row = item.responses.get(key="a")
    item.responses.filter(pk=response_row.pk).update(
        text="<script>alert(1)</script> <img src=x onerror=alert(1)>"
    )
    page = lead_client.get(reverse("admin:annotation_item_change", args=[item.pk]))
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert 'name="_save"' not in page.text
    assert lead_client.get(reverse("admin:annotation_item_add")).status_code == 403


def test_gold_answer_is_shown_to_the_lead(lead_client, sprint, make_items):
    [item] = make_items(sprint, "gold-1", gold={"ranking": ["b", "a"]})
    page = lead_client.get(reverse("admin:annotation_item_change", args=[item.pk]))
    assert "gold answer" in page.text.lower()
    assert "&quot;ranking&quot;" in page.text or '"ranking"' in page.text


def test_item_search_finds_prompt_text(lead_client, sprint, make_items):
    make_items(sprint, "s-1")
    make_items(sprint, "s-2", prompt="Where is my refund for order 1182?")
    page = lead_client.get(reverse("admin:annotation_item_changelist"), {"q": "refund"})
    assert [item.external_id for item in page.context["cl"].result_list] == ["s-2"]
    page = lead_client.get(reverse("admin:annotation_item_changelist"), {"q": "s-1"})
    assert [item.external_id for item in page.context["cl"].result_list] == ["s-1"]
    assert Item.objects.count() == 2


def test_annotator_is_sent_to_the_admin_login(annotator):
    client = Client()
    client.force_login(annotator)
    url = reverse("admin:annotation_sprint_changelist")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_is_sent_to_the_admin_login(sprint):
    url = reverse("admin:annotation_sprint_import", args=[sprint.pk])
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_superuser_sees_every_sprint(superuser_client, sprint, other_sprint):
    page = superuser_client.get(reverse("admin:annotation_sprint_changelist"))
    assert sprint.name in page.text
    assert other_sprint.name in page.text


def test_judgments_cannot_be_changed_in_the_admin(superuser_client, populated):
    judgment = populated["judgment"]
    url = reverse("admin:annotation_judgment_change", args=[judgment.pk])
    assert superuser_client.post(url, {"seconds": "1"}).status_code == 403
    delete_url = reverse("admin:annotation_judgment_delete", args=[judgment.pk])
    assert superuser_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Judgment.objects.filter(pk=judgment.pk).exists()
