"""Bad import files: each is refused whole through the API (400) and the command (non-zero
exit), with the offending line named and not one row stored."""

import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import AuditEvent, GoldAnswer, Item, Response
from tests.annotation.import_files import concord_row, write_csv

pytestmark = pytest.mark.django_db

GOOD = json.dumps(concord_row("ok-1"))
GOOD2 = json.dumps(concord_row("ok-2"))


def _bytes(*lines: str | bytes) -> bytes:
    return b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n"


BAD_FILES = {
    # name: (file bytes, line that must be named, words the message must contain)
    "broken JSON": (_bytes(GOOD, '{"external_id": "x", "prompt": ', GOOD2), 2, "not valid JSON"),
    "missing responses": (
        _bytes(GOOD, json.dumps({"external_id": "x", "prompt": "hi"})),
        2,
        "no responses",
    ),
    "one response only": (
        _bytes(GOOD, GOOD2, json.dumps(concord_row("x", responses=[{"id": "a", "text": "only"}]))),
        3,
        "at least two responses",
    ),
    "duplicate external ids": (_bytes(GOOD, GOOD2, GOOD), 3, "already appears on line 1"),
    "wrong encoding": (
        _bytes(
            GOOD,
            json.dumps(concord_row("café"), ensure_ascii=False)
            .encode("utf-8")
            .replace("é".encode(), b"\xe9"),
        ),
        2,
        "not valid UTF-8",
    ),
    "empty file": (b"", 0, "no items"),
    "only blank lines": (b"\n\n   \n", 0, "no items"),
    "10 MB line": (
        _bytes(GOOD, json.dumps(concord_row("huge", prompt="x" * (10 * 1024 * 1024))), GOOD2),
        2,
        "longer than the limit",
    ),
    "not an object": (_bytes(GOOD, "[1, 2]"), 2, "must be a JSON object"),
    "empty prompt": (_bytes(json.dumps(concord_row("x", prompt="  "))), 1, "is empty"),
    "repeated response id": (
        _bytes(
            json.dumps(
                concord_row("x", responses=[{"id": "a", "text": "1"}, {"id": "a", "text": "2"}])
            )
        ),
        1,
        "repeated",
    ),
    "identical responses": (
        _bytes(
            json.dumps(
                concord_row("x", responses=[{"id": "a", "text": "1"}, {"id": "b", "text": "1"}])
            )
        ),
        1,
        "same text",
    ),
    "gold not a permutation": (
        _bytes(json.dumps(concord_row("x", gold={"ranking": ["a", "a"]}))),
        1,
        "exactly once",
    ),
    "unknown field": (_bytes(json.dumps({**concord_row("x"), "respones": []})), 1, "unknown field"),
    "bad chat role": (
        _bytes(json.dumps(concord_row("x", prompt=[{"role": "robot", "content": "hi"}]))),
        1,
        "role must be one of",
    ),
    "hh row that is not a dialogue": (
        _bytes(json.dumps({"chosen": "just text", "rejected": "other text"})),
        1,
        "HH-RLHF dialogue",
    ),
    "NUL character": (_bytes(json.dumps(concord_row("x", prompt="a\u0000b"))), 1, "NUL character"),
    "hh rows that part at a Human turn": (
        _bytes(
            json.dumps(
                {
                    "chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: bye",
                    "rejected": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: ciao",
                }
            )
        ),
        1,
        "part at an Assistant reply",
    ),
    "hh row whose response is empty": (
        _bytes(
            json.dumps(
                {
                    "chosen": "\n\nHuman: hi\n\nAssistant: ok",
                    "rejected": "\n\nHuman: hi\n\nAssistant: ",
                }
            )
        ),
        1,
        "response part is empty",
    ),
    "trl row with identical chosen and rejected": (
        _bytes(json.dumps({"prompt": "q", "chosen": "same", "rejected": "same"})),
        1,
        "nothing to compare",
    ),
}


def _post(client, sprint, content: bytes, name: str = "items.jsonl"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/sprints/{sprint.pk}/items/import",
        {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream")},
        format="multipart",
    )


def _nothing_stored():
    assert Item.objects.count() == 0
    assert Response.objects.count() == 0
    assert GoldAnswer.objects.count() == 0
    assert not AuditEvent.objects.filter(action="items.imported").exists()


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_api_rejects_bad_file_whole(case, sprint, lead, api_client_for):
    content, line, words = BAD_FILES[case]
    response = _post(api_client_for(lead), sprint, content)
    assert response.status_code == 400, response.content[:300]
    errors = response.json()["errors"]
    assert any(e["line"] == line and words in e["message"] for e in errors), errors
    _nothing_stored()


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_command_rejects_bad_file_whole(case, sprint, tmp_path, capsys):
    content, line, words = BAD_FILES[case]
    path = tmp_path / "items.jsonl"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_items", str(path), sprint=sprint.slug, no_progress=True)
    err = capsys.readouterr().err
    where = f"line {line}" if line else "file"
    assert where in err and words in err, err
    _nothing_stored()


def test_every_bad_line_is_listed(sprint, lead, api_client_for):
    content = _bytes(GOOD, "{nope", GOOD2, json.dumps({"external_id": "x", "prompt": "hi"}), "[]")
    errors = _post(api_client_for(lead), sprint, content).json()["errors"]
    assert [e["line"] for e in errors] == [2, 4, 5]
    assert errors[1]["field"] == "responses"


def test_bad_line_after_many_good_chunks_still_stores_nothing(sprint, lead, api_client_for):
    lines = [json.dumps(concord_row(f"ok-{i}")) for i in range(4500)] + ["{broken"]
    response = _post(api_client_for(lead), sprint, _bytes(*lines))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 4501, "message": response.json()["errors"][0]["message"]}
    ]
    _nothing_stored()


def test_changed_content_under_an_existing_external_id_is_refused(sprint, lead, api_client_for):
    client = api_client_for(lead)
    assert _post(client, sprint, _bytes(GOOD)).status_code == 201
    changed = json.dumps(concord_row("ok-1", prompt="A different question"))
    response = _post(client, sprint, _bytes(GOOD2, changed))
    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 2
    assert "different content" in response.json()["errors"][0]["message"]
    assert list(Item.objects.values_list("external_id", flat=True)) == ["ok-1"]


def test_csv_errors_name_the_line(sprint, lead, api_client_for, tmp_path):
    path = write_csv(
        tmp_path / "items.csv",
        ["external_id", "prompt", "response_a", "response_b"],
        [["c-1", "Q?", "yes", "no"], ["c-2", "Q2?", "only one", ""], ["c-3", "", "x", "y"]],
    )
    response = _post(api_client_for(lead), sprint, path.read_bytes(), name="items.csv")
    assert response.status_code == 400
    assert [e["line"] for e in response.json()["errors"]] == [3, 4]
    _nothing_stored()


def test_csv_with_unknown_column_is_named_once_at_the_header(sprint, lead, api_client_for):
    content = b"external_id,prompt,response_a,response_b,colour\nc-1,Q?,a,b,red\nc-2,Q?,a,b,x\n"
    errors = _post(api_client_for(lead), sprint, content, name="x.csv").json()["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(1, "colour")]
    assert "unknown column 'colour'" in errors[0]["message"]


def test_csv_ragged_row_is_named(sprint, lead, api_client_for):
    content = b"external_id,prompt,response_a,response_b\nc-1,Q?,a,b\nc-2,Q?,a\n"
    errors = _post(api_client_for(lead), sprint, content, name="x.csv").json()["errors"]
    assert errors[0]["line"] == 3 and "has 3 cells but the header has 4" in errors[0]["message"]


def test_import_into_closed_sprint_is_refused(sprint, lead, api_client_for):
    sprint.status = "closed"
    sprint.save()
    response = _post(api_client_for(lead), sprint, _bytes(GOOD))
    assert response.status_code == 400
    assert "closed" in response.json()["errors"][0]["message"]
    _nothing_stored()


def test_missing_file_field_is_a_400_naming_the_field(sprint, lead, api_client_for):
    response = api_client_for(lead).post(
        f"/api/v1/sprints/{sprint.pk}/items/import", {}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"
