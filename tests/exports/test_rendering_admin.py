"""The export add page offers the rendering filters as fields: a ``context`` select and the two
templates as text areas; what is set there is stored in the filters, and a bad template is
refused on its own field with the API's message, nothing stored."""

import pytest
from django.test import Client
from django.urls import reverse

from exports.models import DatasetVersion
from exports.services.prompt_rendering import DEFAULT_CONTEXT_TEMPLATE

pytestmark = pytest.mark.django_db

ADD = reverse("admin:exports_datasetversion_add")


@pytest.fixture
def client(lead) -> Client:
    client = Client()
    client.force_login(lead)
    return client


def form_data(sprint, **fields) -> dict:
    return {"sprints": [sprint.pk], "kind": "preference", "format": "jsonl", "filters": "{}",
            **fields}  # fmt: skip


def test_the_add_page_offers_the_rendering_choices(client):
    page = client.get(ADD)
    fields = page.context["adminform"].form.fields
    assert [value for value, _ in fields["context"].choices] == ["", "prompt", "none"]
    assert 'name="context_template"' in page.text and "<textarea" in page.text
    assert DEFAULT_CONTEXT_TEMPLATE.split("\n")[0] in page.text  # the default as a placeholder
    assert "grouped" in page.text


def test_the_rendering_fields_go_into_the_stored_filters(client, sprint):
    response = client.post(ADD, form_data(
        sprint, filters='{"form": "grouped", "context_template": "ignored {documents}"}',
        context="none", context_template="Sources:\r\n{documents}", document_template="",
    ))  # fmt: skip
    assert response.status_code == 302
    filters = DatasetVersion.objects.get().filters
    assert filters["form"] == "grouped" and filters["context"] == "none"
    assert filters["context_template"] == "Sources:\n{documents}", "the field wins, LF line ends"
    assert filters["document_template"] == "[{number}] {title} (id: {id})\n{text}"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"document_template": "{text.__class__}"}, "document_template", "unknown placeholder"),
        ({"context_template": "No documents"}, "context_template", "must contain {documents}"),
        ({"filters": '{"context": "inline"}'}, "context", "filters.context: must be one of"),
        ({"kind": "consensus", "context": "none"}, "context", "consensus export"),
    ],
)
def test_a_bad_rendering_choice_is_shown_on_its_field(client, sprint, fields, field, message):
    response = client.post(ADD, form_data(sprint, **fields))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert not DatasetVersion.objects.exists()
