"""Hostile request bodies, sent to every door that reads one, as they were found to answer 500
(or, for the 11 MB body, Django's HTML "Bad Request" page): a NUL character in a reason or a
rationale (PostgreSQL refuses it in text and jsonb), a lone surrogate, integers of 2**64 and
-2**63, ``answers`` nested 2,000 deep, and import metadata nested 300 and 1,000 deep (orjson
reads 1,024 levels but writes only 254).

Each is now a 400 (413 for the oversized body) in the API's one JSON error shape, naming the
field, with nothing stored. Run on PostgreSQL too: the NUL cases are about its text types.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotation.models import (
    Assignment,
    AuditEvent,
    Criterion,
    CriterionKind,
    Item,
    ItemFlag,
    Judgment,
    SprintRole,
)
from exports.models import DatasetVersion
from reviews.models import ConsensusLabel
from reviews.services.disputes import review_item
from tests.annotation.labeling_fixtures import add_items, good_answers
from tests.reviews.dispute_fixtures import make_items, people
from training.models import TrainingRun

pytestmark = pytest.mark.django_db

SLOT = '"@@hostile@@"'
DEEP_ANSWERS = "[" * 2000 + "]" * 2000

# name: (the JSON text put in the field, whether the field is named by its full path; a value
# too deep is named by the body's top-level member that holds it)
HOSTILE = {
    "NUL": (json.dumps("cut \u0000 off"), True),
    "lone surrogate": ('"cut \\ud800 off"', True),
    "2**64": (str(2**64), True),
    "-2**63": (str(-(2**63)), True),
    "nested 2,000 deep": (DEEP_ANSWERS, False),
    "nested 65 deep": ("[" * 65 + "]" * 65, False),
}


@dataclass
class Door:
    """One endpoint that reads a JSON body: its URL, a good body with ``SLOT`` where the
    hostile value goes, the field path of that slot, and how to tell that nothing was stored."""

    url: str
    body: str
    field: str
    client: Client
    nothing_stored: Callable[[], bool]
    headers: dict


def _body(template: dict, *path: str) -> str:
    target = template
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "@@hostile@@"
    return json.dumps(template)


@pytest.fixture
def doors(sprint, annotator, reviewer, lead, make_user, api_client_for) -> dict[str, Door]:
    Criterion.objects.create(
        rubric=sprint.rubric, name="notes", kind=CriterionKind.TEXT, question="Notes?", position=2
    )
    add_items(sprint, 3)
    labeler = api_client_for(annotator)
    assignment = labeler.get(f"/api/v1/sprints/{sprint.pk}/next").json()["assignment"]
    (disputed,) = make_items(sprint, 1, prefix="disputed")
    (flagger,) = people(sprint, make_user, ["flagger"])
    ItemFlag.objects.create(sprint=sprint, item=disputed, annotator=flagger, reason="cut off")
    dispute = review_item(disputed.pk)
    flags_before = ItemFlag.objects.count()

    def untouched_assignment() -> bool:
        held = Assignment.objects.get(pk=assignment)
        return not Judgment.objects.exists() and (held.status, held.skip_reason) == ("leased", "")

    def open_dispute() -> bool:
        dispute.refresh_from_db()
        settled = AuditEvent.objects.filter(action__startswith="dispute.").exists()
        return dispute.status == "open" and not settled and not ConsensusLabel.objects.exists()

    judgment = {"assignment": assignment, "answers": good_answers(), "seconds": 4}
    submit = {"HTTP_IDEMPOTENCY_KEY": "hostile"}
    return {
        "judgment answers": Door(
            "/api/v1/judgments",
            _body(judgment | {"answers": good_answers()}, "answers", "notes"),
            "answers.notes",
            labeler,
            untouched_assignment,
            submit,
        ),
        "judgment seconds": Door(
            "/api/v1/judgments",
            _body(dict(judgment), "seconds"),
            "seconds",
            labeler,
            untouched_assignment,
            submit,
        ),
        "skip": Door(
            f"/api/v1/assignments/{assignment}/skip",
            _body({}, "reason"),
            "reason",
            labeler,
            untouched_assignment,
            {},
        ),
        "flag": Door(
            f"/api/v1/assignments/{assignment}/flag",
            _body({}, "reason"),
            "reason",
            labeler,
            lambda: ItemFlag.objects.count() == flags_before,
            {},
        ),
        "dispute resolve": Door(
            f"/api/v1/disputes/{dispute.pk}/resolve",
            _body({"ranking": ["a", "b"]}, "rationale"),
            "rationale",
            api_client_for(reviewer),
            open_dispute,
            {},
        ),
        "dispute void": Door(
            f"/api/v1/disputes/{dispute.pk}/void",
            _body({}, "reason"),
            "reason",
            api_client_for(reviewer),
            open_dispute,
            {},
        ),
        "export": Door(
            "/api/v1/exports",
            _body({"sprints": [sprint.pk], "kind": "preference", "filters": {}}, "filters", "form"),
            "filters.form",
            api_client_for(lead),
            lambda: not DatasetVersion.objects.exists(),
            {},
        ),
        "training run": Door(
            "/api/v1/training-runs",
            _body({"dataset": 1}, "name"),
            "name",
            api_client_for(lead),
            lambda: not TrainingRun.objects.exists(),
            {},
        ),
    }


def post_raw(door: Door, raw: bytes, content_type: str = "application/json"):
    return door.client.generic("POST", door.url, raw, content_type=content_type, **door.headers)


def assert_refused(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", "never an HTML page"
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["errors"][0]["field"] == field, body
    return body


@pytest.mark.parametrize("hostile", list(HOSTILE))
@pytest.mark.parametrize(
    "door",
    [
        "judgment answers",
        "judgment seconds",
        "skip",
        "flag",
        "dispute resolve",
        "dispute void",
        "export",
        "training run",
    ],
)
def test_a_hostile_value_is_a_400_naming_the_field(doors, door, hostile):
    target = doors[door]
    fragment, full_path = HOSTILE[hostile]
    raw = target.body.replace(SLOT, fragment).encode()

    response = post_raw(target, raw)  # was 500 (NUL, surrogate, 2**64, 2,000 deep)

    assert_refused(response, 400, target.field if full_path else target.field.split(".")[0])
    assert target.nothing_stored()


@pytest.mark.parametrize("door", ["judgment answers", "skip", "dispute void", "export"])
def test_an_11_mb_body_is_a_413_in_the_json_shape(doors, door):
    target = doors[door]
    raw = target.body.replace(SLOT, json.dumps("x" * 11_000_000)).encode()

    response = post_raw(target, raw)  # was Django's HTML "Bad Request (400)" page

    body = assert_refused(response, 413, "body")
    assert "10,485,760 bytes" in body["detail"] and "DATA_UPLOAD_MAX_MEMORY_SIZE" in body["detail"]
    assert target.nothing_stored()


def test_a_nul_in_a_form_field_is_a_400_naming_it(doors):
    for name in ("flag", "skip"):
        target = doors[name]
        response = post_raw(
            target, b"reason=cut+%00+off", content_type="application/x-www-form-urlencoded"
        )
        assert_refused(response, 400, "reason")
        assert target.nothing_stored()


def test_a_form_of_too_many_fields_is_a_400_in_the_json_shape(doors):
    target = doors["flag"]
    raw = "&".join(f"f{n}=x" for n in range(1001)).encode()  # DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = post_raw(target, raw, content_type="application/x-www-form-urlencoded")
    assert_refused(response, 400, "body")  # was Django's HTML "Bad Request (400)" page
    assert target.nothing_stored()


def test_a_body_that_is_not_json_is_a_400_on_the_body(doors):
    target = doors["flag"]
    for raw in (b'{"reason": ', b"\xff\xfe{}", b'{"reason": NaN}'):
        assert_refused(post_raw(target, raw), 400, "body")
    assert target.nothing_stored()


def test_a_plain_body_still_goes_through(doors):
    target = doors["flag"]
    response = post_raw(target, target.body.replace(SLOT, '"the answers are cut off"').encode())
    assert response.status_code == 201


# --- import: a multipart upload whose lines are JSON -------------------------------------


def _line(**extra) -> dict:
    row = {
        "external_id": "hostile",
        "prompt": "How do I reset my password?",
        "responses": [{"id": "a", "text": "Use the link."}, {"id": "b", "text": "Call us."}],
    }
    return row | extra


def _upload(lead, sprint, api_client_for, content: bytes, **fields):
    upload = SimpleUploadedFile("items.jsonl", content, content_type="application/octet-stream")
    return api_client_for(lead).post(
        f"/api/v1/sprints/{sprint.pk}/items/import", {"file": upload, **fields}, format="multipart"
    )


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        # orjson reads these (up to 1,024 levels) but could not write them back: was 500
        (json.dumps(_line(metadata={"x": 1})).replace("1}", _deep(300) + "}"), "metadata.x", "64"),
        (json.dumps(_line(metadata={"x": 1})).replace("1}", _deep(1000) + "}"), "metadata.x", "64"),
        (
            json.dumps(_line()).replace('us."}', 'us.", "metadata": {"m": ' + _deep(70) + "}}"),
            "responses[1].metadata.m",
            "64",
        ),
        (json.dumps(_line(metadata={"source": "log\u0000"})), "metadata.source", "NUL"),
        (json.dumps(_line(prompt="How do I\u0000 reset it?")), "prompt", "NUL"),
        (json.dumps(_line(metadata={"n": 2**64})), "metadata.n", "64-bit"),
    ],
)
def test_an_import_line_that_cannot_be_stored_is_refused_naming_line_and_field(
    sprint, lead, api_client_for, line, field, message
):
    content = (json.dumps(_line(external_id="fine")) + "\n" + line + "\n").encode()

    response = _upload(lead, sprint, api_client_for, content)

    assert response.status_code == 400, response.content[:300]
    (problem,) = response.json()["errors"]
    assert (problem["line"], problem["field"]) == (2, field)
    assert message in problem["message"]
    assert not Item.objects.exists()


def test_an_import_line_with_a_lone_surrogate_is_refused_naming_the_line(
    sprint, lead, api_client_for
):
    line = json.dumps(_line()).replace("Call us.", "Call \\ud800 us.")
    response = _upload(lead, sprint, api_client_for, line.encode() + b"\n")
    assert response.status_code == 400
    (problem,) = response.json()["errors"]
    assert problem["line"] == 1 and "surrogate" in problem["message"]
    assert not Item.objects.exists()


def test_a_nul_in_an_import_form_field_is_a_400_naming_it(sprint, lead, api_client_for):
    content = json.dumps(_line()).encode() + b"\n"
    response = _upload(lead, sprint, api_client_for, content, format="jsonl\u0000")
    assert_refused(response, 400, "format")
    assert not Item.objects.exists()


# --- the dispute page's form ---------------------------------------------------------------


def test_a_nul_in_the_dispute_page_rationale_shows_the_form_again(sprint, reviewer, make_user):
    (item,) = make_items(sprint, 1)
    (flagger,) = people(sprint, make_user, ["flagger"], role=SprintRole.ANNOTATOR)
    ItemFlag.objects.create(sprint=sprint, item=item, annotator=flagger, reason="cut off")
    dispute = review_item(item.pk)
    browser = Client()
    browser.force_login(reviewer)

    response = browser.post(  # was 500
        f"/reviews/disputes/{dispute.pk}",
        {"action": "resolve", "rank_1": "a", "rank_2": "b", "rationale": "a is \u0000 right"},
    )

    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == "open" and not ConsensusLabel.objects.exists()
