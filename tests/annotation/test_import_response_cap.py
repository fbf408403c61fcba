"""Responses per item are capped at CONCORD_IMPORT_MAX_RESPONSES: an item of 5,000 responses (which
import used to accept) is refused whole, naming its line and the field ``responses``."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from annotation.models import Item, Response
from tests.annotation.import_files import concord_row

pytestmark = pytest.mark.django_db


def _row(external_id: str, count: int) -> str:
    responses = [{"id": f"resp-{n:04x}", "text": f"answer {n}"} for n in range(count)]
    return json.dumps(concord_row(external_id, responses=responses))


def _post(client, sprint, lines: list[str]):
    content = ("\n".join(lines) + "\n").encode()
    return client.post(
        f"/api/v1/sprints/{sprint.pk}/items/import",
        {"file": SimpleUploadedFile("items.jsonl", content, "application/octet-stream")},
        format="multipart",
    )


def test_item_with_5000_responses_is_refused_naming_line_and_field(sprint, lead, api_client_for):
    response = _post(api_client_for(lead), sprint, [_row("ok", 2), _row("huge", 5000)])
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [
        {
            "line": 2,
            "field": "responses",
            "message": "has 5000 responses, more than the limit of 16 per item"
            " (CONCORD_IMPORT_MAX_RESPONSES)",
        }
    ]
    assert Item.objects.count() == 0 and Response.objects.count() == 0


def test_the_limit_itself_is_accepted_and_one_more_refused(sprint, lead, api_client_for):
    client = api_client_for(lead)
    assert _post(client, sprint, [_row("over", 17)]).status_code == 400
    assert Item.objects.count() == 0
    assert _post(client, sprint, [_row("at-limit", 16)]).status_code == 201
    assert Response.objects.filter(item__external_id="at-limit").count() == 16


def test_the_limit_is_a_setting(sprint, lead, api_client_for, settings):
    settings.CONCORD_IMPORT_MAX_RESPONSES = 3
    response = _post(api_client_for(lead), sprint, [_row("four", 4)])
    assert response.status_code == 400
    assert "limit of 3 per item" in response.json()["errors"][0]["message"]


def test_command_names_the_line_and_field(sprint, tmp_path, capsys):
    path = tmp_path / "items.jsonl"
    path.write_text(_row("ok", 2) + "\n" + _row("huge", 600) + "\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_items", str(path), sprint=sprint.slug, no_progress=True)
    err = capsys.readouterr().err
    assert "line 2 [responses]: has 600 responses" in err, err
    assert Item.objects.count() == 0
