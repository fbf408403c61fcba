"""Import files a lead gets wrong, as they come: each is refused whole with a message that names
the real problem (the line, the field, what to do), through the API and the admin's import page,
not with a symptom per line ("not valid JSON" on every line of a pretty-printed file, "is
missing" on every row of a CSV that lacks a column, "holds no items" for a spreadsheet)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Item
from tests.annotation.import_files import concord_row

pytestmark = pytest.mark.django_db

ROWS = [concord_row("ok-1"), concord_row("ok-2")]
JSONL = "".join(json.dumps(row) + "\n" for row in ROWS).encode()
HEADER = "external_id,prompt,response_a,response_b\n"

# name: (file name, bytes, [(line, field, words)] that the errors must be, in order)
CASES = {
    "spreadsheet": (
        "items.xlsx", b"PK\x03\x04\x14\x00\x06\x00rest of a workbook",
        [(0, None, "items.xlsx is a ZIP archive (an Excel .xlsx")],
    ),
    "unknown extension": ("items.ods", JSONL, [(0, None, "a .ods file cannot be imported")]),
    "JSON array in a .json file": (
        "items.json", json.dumps(ROWS).encode(), [(1, None, "the file is one JSON array")],
    ),
    "pretty-printed JSON array in a .jsonl file": (
        "items.jsonl", json.dumps(ROWS, indent=2).encode(), [(1, None, "one JSON array")],
    ),
    "pretty-printed JSON object": (
        "items.jsonl", json.dumps(ROWS[0], indent=2).encode(),
        [(1, None, "the first item spans several lines (pretty-printed JSON)")],
    ),
    "CSV named .jsonl": (
        "items.jsonl", (HEADER + "c1,Q,yes,no\n").encode(),
        [(1, None, "looks like a CSV header, not JSON: name the file .csv")],
    ),
    "JSON Lines named .csv": (
        "items.csv", JSONL, [(1, None, "is a JSON object, not a CSV header: name the file .jsonl")],
    ),
    "CSV without the prompt column": (
        "items.csv", b"external_id,response_a,response_b\nc1,yes,no\nc2,yes,no\n",
        [(1, "prompt", "the header has no prompt column (it has: external_id, response_a, "
                       "response_b)")],
    ),
    "CSV with one response column": (
        "items.csv", b"external_id,prompt,response_a\nc1,Q,yes\nc2,Q,yes\n",
        [(1, "response_b", "the header has 1 response column(s) (response_a)")],
    ),
    "CSV with a misspelled column": (
        "items.csv", b"external_id,promt,response_a,response_b\nc1,Q,yes,no\n",
        [(1, "promt", "unknown column 'promt' (did you mean 'prompt'?)"),
         (1, "prompt", "the header has no prompt column")],
    ),
    "CSV separated by semicolons": (
        "items.csv", HEADER.replace(",", ";").encode() + b"c1;Q;yes;no\n",
        [(1, None, "the fields seem to be separated by ';'; save the file comma-separated")],
    ),
    "TSV file": (
        "items.tsv", HEADER.replace(",", "\t").encode() + b"c1\tQ\tyes\tno\n",
        [(1, None, "separated by tabs")],
    ),
    "CSV row with one response": (
        "items.csv", (HEADER + "c1,Q,yes,no\nc2,Q,only one,\n").encode(),
        [(3, "response_b", "is empty, which leaves 1 response; each item needs at least two")],
    ),
    "CSV with duplicate ids": (
        "items.csv", (HEADER + "c1,Q,yes,no\nc1,Q2,a,b\n").encode(),
        [(3, "external_id", "external_id 'c1' already appears on line 2")],
    ),
    "JSON Lines with duplicate ids": (
        "items.jsonl", JSONL + json.dumps(ROWS[0]).encode() + b"\n",
        [(3, "external_id", "external_id 'ok-1' already appears on line 1")],
    ),
    "UTF-16 CSV": (
        "items.csv", (HEADER + "c1,Q,yes,no\n").encode("utf-16"),
        [(1, None, "the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as "
                   "UTF-8")],
    ),
    "Latin-1 CSV": (
        "items.csv", (HEADER + "c1,Café?,oui,non\n").encode("latin-1"),
        [(2, None, "not valid UTF-8 (byte 0xe9 at column 7); save the file as UTF-8")],
    ),
}  # fmt: skip


def post(client, sprint, name: str, content: bytes):
    return client.post(
        f"/api/v1/sprints/{sprint.pk}/items/import",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


@pytest.mark.parametrize("case", list(CASES))
def test_the_api_names_the_real_problem(case, sprint, lead, api_client_for):
    name, content, expected = CASES[case]
    response = post(api_client_for(lead), sprint, name, content)
    assert response.status_code == 400, response.content[:300]
    errors = response.json()["errors"]
    assert [(e["line"], e.get("field")) for e in errors] == [(ln, f) for ln, f, _ in expected]
    for error, (_, _, words) in zip(errors, expected, strict=True):
        assert words in error["message"], error
    assert Item.objects.count() == 0


@pytest.mark.parametrize(
    "case", ["spreadsheet", "JSON array in a .json file", "CSV without the prompt column"]
)
def test_the_admin_import_page_shows_the_same_message(case, lead_client, sprint):
    name, content, expected = CASES[case]
    page = lead_client.post(
        f"/admin/annotation/sprint/{sprint.pk}/import/",
        {"file": SimpleUploadedFile(name, content)},
    )
    assert page.status_code == 200
    assert expected[0][2] in page.content.decode().replace("&#x27;", "'")
    assert Item.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("items.csv", b"\xef\xbb\xbf" + (HEADER + "c1,Q,yes,no\n").encode()),
        ("items.jsonl", b"\xef\xbb\xbf" + JSONL),
        ("items.txt", JSONL),
        ("items.json", JSONL),
        ("items.csv", b"prompt,chosen,rejected\nQ,good,bad\n"),
    ],
)
def test_files_that_are_fine_still_import(name, content, sprint, lead, api_client_for):
    response = post(api_client_for(lead), sprint, name, content)
    assert response.status_code == 201, response.content[:300]
    assert Item.objects.count() >= 1
