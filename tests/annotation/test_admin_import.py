"""The sprint's "Import items" admin page: real uploads through the import service."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import AuditEvent, Item

from .conftest import item_row, jsonl

pytestmark = pytest.mark.django_db


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def import_url(sprint) -> str:
    return reverse("admin:annotation_sprint_import", args=[sprint.pk])


def test_change_form_links_to_the_import_page(lead_client, sprint):
    page = lead_client.get(reverse("admin:annotation_sprint_change", args=[sprint.pk]))
    assert import_url(sprint) in page.text
    assert "Import items" in page.text


def test_import_page_loads(lead_client, sprint):
    page = lead_client.get(import_url(sprint))
    assert page.status_code == 200
    assert 'type="file"' in page.text


def test_uploaded_jsonl_creates_items_and_reports_counts(lead_client, sprint, staff_lead):
    content = jsonl([item_row("u-1"), item_row("u-2", gold={"ranking": ["b", "a"]})])
    response = lead_client.post(import_url(sprint), {"file": upload("batch.jsonl", content)})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:annotation_sprint_change", args=[sprint.pk])
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("2 created, 0 unchanged" in m for m in messages)
    assert Item.objects.filter(sprint=sprint).count() == 2
    assert Item.objects.get(external_id="u-2").is_gold
    event = AuditEvent.objects.get(action="items.imported")
    assert event.actor == staff_lead and event.sprint == sprint

    again = lead_client.post(import_url(sprint), {"file": upload("batch.jsonl", content)})
    messages = [str(m) for m in get_messages(again.wsgi_request)]
    assert any("0 created, 2 unchanged" in m for m in messages)
    assert Item.objects.filter(sprint=sprint).count() == 2


def test_csv_with_explicit_format(lead_client, sprint):
    content = (
        b"external_id,prompt,response_a,response_b,stratum\n"
        b"c-1,How do refunds work?,Within 14 days.,Never.,refunds\n"
    )
    response = lead_client.post(
        import_url(sprint), {"file": upload("batch.txt", content), "file_format": "csv"}
    )
    assert response.status_code == 302
    assert Item.objects.get(sprint=sprint, external_id="c-1").stratum == "refunds"


def test_bad_file_lists_every_problem_by_line_and_stores_nothing(lead_client, sprint):
    content = b"\n".join(
        [
            jsonl([item_row("ok-1")]).strip(),
            b"{not json",
            b'{"external_id": "x-3", "prompt": "Hi"}',
            jsonl([item_row("ok-4", responses=[{"id": "a", "text": "only one"}])]).strip(),
        ]
    )
    response = lead_client.post(import_url(sprint), {"file": upload("bad.jsonl", content)})
    assert response.status_code == 200
    text = response.text
    assert "3 problems" in text
    assert "Nothing was stored" in text
    assert "line 2: not valid JSON" in text
    assert "line 3 [responses]: no responses" in text
    assert "line 4 [responses]: needs at least two responses" in text
    assert "<li>line 1" not in text
    assert Item.objects.count() == 0
    assert not AuditEvent.objects.filter(action="items.imported").exists()


def test_problem_text_from_the_file_is_escaped(lead_client, sprint):
    content = jsonl([item_row("x", **{"<script>alert(1)</script>": 1})])
    response = lead_client.post(import_url(sprint), {"file": upload("bad.jsonl", content)})
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_missing_file_is_a_form_error(lead_client, sprint):
    response = lead_client.post(import_url(sprint), {})
    assert response.status_code == 200
    assert "This field is required" in response.text


def test_action_redirects_to_the_import_page_for_one_sprint(lead_client, sprint):
    response = lead_client.post(
        reverse("admin:annotation_sprint_changelist"),
        {"action": "import_items_action", "_selected_action": [sprint.pk]},
    )
    assert response.status_code == 302
    assert response["Location"] == import_url(sprint)


def test_action_needs_exactly_one_sprint(superuser_client, sprint, other_sprint):
    response = superuser_client.post(
        reverse("admin:annotation_sprint_changelist"),
        {"action": "import_items_action", "_selected_action": [sprint.pk, other_sprint.pk]},
        follow=True,
    )
    assert "Select exactly one sprint" in response.text


def test_lead_cannot_import_into_a_sprint_they_do_not_lead(lead_client, other_sprint, lead_b):
    assert lead_client.get(import_url(other_sprint)).status_code == 404
    content = jsonl([item_row("intruder")])
    response = lead_client.post(import_url(other_sprint), {"file": upload("x.jsonl", content)})
    assert response.status_code == 404
    assert not Item.objects.filter(sprint=other_sprint).exists()


def test_annotator_cannot_reach_the_import_page(client, annotator, sprint):
    client.force_login(annotator)
    response = client.get(import_url(sprint))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
