"""Production preferences in the ``preference`` export: ``"sources": ["sprints",
"production"]`` through the API (built by the export task, in-process here and by a real worker
below), the rows of both parts with their provenance, the manifest's two parts, who may export
and see what, and every bad request refused naming its field with nothing stored."""

import hashlib
import io

import orjson
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from annotation.models import AuditEvent, SprintMember, SprintRole
from exports.models import DatasetVersion
from exports.services.build import build_dataset, start_export
from exports.services.empty import why_empty
from exports.services.production_rows import PRODUCTION_PREFERENCE_COLUMNS
from exports.services.rows import PREFERENCE_COLUMNS
from feedback.models import FeedbackEvent
from tests.exports.export_fixtures import export, jsonl, labelled_item
from tests.exports.production_fixtures import CHAT, production_events
from tests.exports.test_export_worker import status, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def sources(lead):
    return production_events(lead)


def start(client, **body):
    return client.post("/api/v1/exports", {"kind": "preference", **body}, format="json")


def built(client, capture, **body) -> tuple[dict, bytes]:
    """Start an export through the API, built on commit by the export task (in-process), and
    return its detail and downloaded file."""
    with capture(execute=True):
        response = start(client, **body)
    assert response.status_code == 202, response.json()
    return downloaded(client, response.json()["id"])


def downloaded(client, pk: int) -> tuple[dict, bytes]:
    """A finished export's detail and file, whose SHA-256 matches the detail's and manifest's."""
    detail = client.get(f"/api/v1/exports/{pk}").json()
    assert detail["status"] == "done", detail["error"]
    download = client.get(f"/api/v1/exports/{pk}/download")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == detail["sha256"] == detail["manifest"]["sha256"]
    return detail, body


def test_an_export_holds_labelled_sprints_and_production_pairs(
    lead, sprint, sources, api_client_for, eager_celery, django_capture_on_commit_callbacks
):
    labelled_item(sprint, 1)
    labelled_item(sprint, 2, ranking=("b", "a"))
    client = api_client_for(lead)
    detail, body = built(
        client, django_capture_on_commit_callbacks, sprints=[sprint.pk],
        sources=["sprints", "production"], production={"sources": ["support-bot"]},
    )  # fmt: skip
    rows = [orjson.loads(line) for line in body.splitlines()]
    assert detail["rows"] == len(rows) == 4
    assert all(list(row) == list(PRODUCTION_PREFERENCE_COLUMNS) for row in rows)
    labelled, production = rows[:2], rows[2:]
    assert [(r["origin"], r["source"], r["event_id"], r["kind"]) for r in labelled] == [
        ("sprints", "sprint-a", "", "consensus")
    ] * 2
    assert [r["item_id"] for r in labelled] == sorted(r["item_id"] for r in labelled)
    assert production == [
        {"prompt": "user: Hi\n\nassistant: Hello!\n\nuser: How do I reset my password?",
         "chosen": "Open Settings, then Security.", "rejected": "Open the app.", "margin": 0.0,
         "agreement": None, "item_id": None, "split": "train", "origin": "production",
         "source": "support-bot", "event_id": "ev-1", "kind": "correction"},
        {"prompt": "Where is my invoice?", "chosen": "Billing, then Invoices.",
         "rejected": "Look around.", "margin": 0.0, "agreement": None, "item_id": None,
         "split": "train", "origin": "production", "source": "support-bot", "event_id": "ev-2",
         "kind": "pick"},
    ]  # fmt: skip
    manifest = detail["manifest"]
    assert manifest["columns"] == list(PRODUCTION_PREFERENCE_COLUMNS)
    assert manifest["rows"] == 4 and manifest["counts"]["rows"] == 4
    assert manifest["sources"] == ["sprints", "production"]
    parts = manifest["parts"]
    assert parts["sprints"]["sprints"] == [sprint.pk]
    assert parts["sprints"]["rows"] == 2 and parts["sprints"]["items_kept"] == 2
    assert parts["sprints"]["filters"] == manifest["filters"]
    assert parts["production"] == {
        "sources": ["support-bot"],
        "filters": {"since": None, "until": None, "model_version": None, "kind": None},
        "rows": 2, "rows_by_kind": {"correction": 1, "pick": 1},
        "rows_by_source": {"support-bot": 2}, "rows_by_split": {"train": 2},
    }  # fmt: skip
    assert detail["production"]["sources"] == ["support-bot"]
    dataset = DatasetVersion.objects.get(pk=detail["id"])
    assert list(dataset.feedback_sources.values_list("slug", flat=True)) == ["support-bot"]
    audit = AuditEvent.objects.get(action="export.started", object_id=str(dataset.pk))
    assert audit.changes["production"]["sources"] == ["support-bot"]


def test_an_export_of_sprints_alone_keeps_its_seven_columns(lead, sprint, sources):
    labelled_item(sprint, 1)
    dataset = export(lead, sprint)
    assert list(jsonl(dataset)[0]) == list(PREFERENCE_COLUMNS)
    assert (
        dataset.manifest["sources"] == ["sprints"] and "production" not in dataset.manifest["parts"]
    )
    assert dataset.production is None


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_production_pairs_alone_in_parquet_and_csv(
    lead, sources, api_client_for, eager_celery, django_capture_on_commit_callbacks, fmt
):
    """A lead of a feedback source who leads no sprint exports its pairs alone."""
    SprintMember.objects.filter(user=lead).delete()
    detail, body = built(
        api_client_for(lead), django_capture_on_commit_callbacks, sources=["production"],
        format=fmt,
    )  # fmt: skip
    assert detail["rows"] == 2 and detail["sprints"] == []
    assert detail["manifest"]["sources"] == ["production"]
    assert set(detail["manifest"]["parts"]) == {"production"}
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(body))
        assert table.column_names == list(PRODUCTION_PREFERENCE_COLUMNS)
        assert table.column("kind").to_pylist() == ["correction", "pick"]
    else:
        header = body.split(b"\r\n", 1)[0].decode()
        assert header.split(",") == list(PRODUCTION_PREFERENCE_COLUMNS)


def test_the_conversational_form_keeps_chat_prompts_as_messages(lead, sources):
    dataset = start_export(
        lead, {"sources": ["production"], "filters": {"form": "conversational"}},
        enqueue_build=False,
    )  # fmt: skip
    first = jsonl(build_dataset(dataset.pk))[0]
    assert first["prompt"] == CHAT
    assert first["chosen"] == [{"role": "assistant", "content": "Open Settings, then Security."}]
    assert first["rejected"] == [{"role": "assistant", "content": "Open the app."}]


@pytest.mark.parametrize(
    ("production", "events"),
    [
        ({"kind": "pick"}, ["ev-2"]),
        ({"kind": "correction"}, ["ev-1"]),
        ({"model_version": "v2"}, ["ev-2"]),
        ({"since": "2026-11-02T00:00:00Z"}, ["ev-2"]),
        ({"until": "2026-11-02T00:00:00+01:00"}, ["ev-1"]),
        ({"since": "2026-11-03T00:00:00Z"}, []),
    ],
)
def test_production_filters_narrow_the_pairs(lead, sources, production, events):
    dataset = start_export(
        lead, {"sources": ["production"], "production": production}, enqueue_build=False
    )
    dataset = build_dataset(dataset.pk)
    assert [row["event_id"] for row in jsonl(dataset)] == events
    stored = dataset.manifest["parts"]["production"]["filters"]
    if "until" in production:
        assert stored["until"] == "2026-11-01T23:00:00+00:00"  # stored in UTC
    if not events:
        assert "no production pair of support-bot matched the filters" in why_empty(dataset)


def test_an_empty_mixed_export_says_why_for_both_parts(lead, sprint, sources):
    labelled_item(sprint, 1, gold=True)
    dataset = start_export(
        lead, {"sprints": [sprint.pk], "sources": ["sprints", "production"],
               "production": {"model_version": "v9"}}, enqueue_build=False,
    )  # fmt: skip
    note = why_empty(build_dataset(dataset.pk))
    assert note.startswith("No rows: 1 item were gold items") and "no production pair" in note


def test_a_purged_event_leaves_the_export(lead, sources):
    FeedbackEvent.objects.filter(event_id="ev-1").update(
        text_purged_at=timezone.now(), prompt=None, response="", correction=""
    )
    dataset = start_export(lead, {"sources": ["production"]}, enqueue_build=False)
    assert [row["event_id"] for row in jsonl(build_dataset(dataset.pk))] == ["ev-2"]


# --- who may export and see -----------------------------------------------------------------


def test_a_source_the_caller_does_not_lead_is_refused(lead, sprint, make_user, api_client_for):
    other = make_user("docs-lead", is_staff=True)
    production_events(lead, other_lead=other)
    client = api_client_for(lead)
    for production in ({"sources": ["docs-bot"]}, {"sources": ["support-bot", "docs-bot"]},
                       {"sources": ["no-such-source"]}):  # fmt: skip
        response = start(client, sprints=[sprint.pk], sources=["sprints", "production"],
                         production=production)  # fmt: skip
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["field"] == "production.sources"
        assert "does not exist or you do not lead it" in error["message"]
    assert not DatasetVersion.objects.exists()
    assert not AuditEvent.objects.filter(action="export.started").exists()
    # Left out, the sources are every source the caller leads: docs-bot for its lead.
    with_default = start(api_client_for(other), sources=["production"], sprints=[])
    assert with_default.status_code == 202
    assert DatasetVersion.objects.get().production["sources"] == ["docs-bot"]


def test_a_caller_who_leads_no_source_exports_no_production_pairs(
    lead, sprint, annotator, sources, make_user, api_client_for
):
    for user in (annotator, make_user("outsider")):
        response = start(api_client_for(user), sources=["production"])
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "production.sources"
    assert not DatasetVersion.objects.exists()
    assert start(api_client_for(None), sources=["production"]).status_code == 401


def test_only_leads_of_every_sprint_and_source_see_the_export(
    lead, sprint, sources, make_user, api_client_for
):
    labelled_item(sprint, 1)
    dataset = start_export(
        lead, {"sprints": [sprint.pk], "sources": ["sprints", "production"]}, enqueue_build=False
    )
    build_dataset(dataset.pk)
    support, _ = sources
    sprint_lead_only = make_user("sprint-lead", is_staff=True)
    SprintMember.objects.create(sprint=sprint, user=sprint_lead_only, role=SprintRole.LEAD)
    source_lead_only = make_user("source-lead", is_staff=True)
    support.leads.add(source_lead_only)
    for user in (sprint_lead_only, source_lead_only):
        client = api_client_for(user)
        assert client.get(f"/api/v1/exports/{dataset.pk}").status_code == 404, user
        assert client.get(f"/api/v1/exports/{dataset.pk}/download").status_code == 404, user
        assert client.get("/api/v1/exports").json()["results"] == []
    both = make_user("both", is_staff=True)
    SprintMember.objects.create(sprint=sprint, user=both, role=SprintRole.LEAD)
    support.leads.add(both)
    assert api_client_for(both).get(f"/api/v1/exports/{dataset.pk}").status_code == 200
    assert api_client_for(source_lead_only).get("/api/v1/exports").json()["results"] == []


def test_a_production_export_is_seen_by_the_leads_of_its_sources(
    lead, sources, make_user, api_client_for
):
    dataset = start_export(lead, {"sources": ["production"]}, enqueue_build=False)
    _, docs = sources
    assert api_client_for(lead).get(f"/api/v1/exports/{dataset.pk}").status_code == 200
    docs_lead = make_user("docs-lead", is_staff=True)
    docs.leads.add(docs_lead)
    assert api_client_for(docs_lead).get(f"/api/v1/exports/{dataset.pk}").status_code == 404
    assert api_client_for(None).get(f"/api/v1/exports/{dataset.pk}").status_code == 401


# --- bad requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sources": "production"}, "sources"),
        ({"sources": []}, "sources"),
        ({"sources": ["sprints", "sprints"]}, "sources"),
        ({"sources": ["logs"]}, "sources"),
        ({"sources": [1]}, "sources"),
        ({"sources": None}, "sources"),
        ({"sources": ["production"], "kind": "judgments"}, "sources"),
        ({"sources": ["production"], "kind": "consensus"}, "sources"),
        ({"production": {"sources": ["support-bot"]}}, "production"),
        ({"sources": ["production"], "production": []}, "production"),
        ({"sources": ["production"], "production": {"colour": 1}}, "production.colour"),
        ({"sources": ["production"], "production": {"sources": "support-bot"}},
         "production.sources"),
        ({"sources": ["production"], "production": {"sources": []}}, "production.sources"),
        ({"sources": ["production"], "production": {"sources": [7]}}, "production.sources"),
        ({"sources": ["production"], "production": {"since": "yesterday"}}, "production.since"),
        ({"sources": ["production"], "production": {"since": "2026-11-01T00:00:00"}},
         "production.since"),
        ({"sources": ["production"], "production": {"since": 1700000000}}, "production.since"),
        ({"sources": ["production"], "production": {"until": "2026-13-01T00:00:00Z"}},
         "production.until"),
        ({"sources": ["production"], "production": {"since": "2026-11-02T00:00:00Z",
                                                    "until": "2026-11-01T00:00:00Z"}},
         "production.until"),
        ({"sources": ["production"], "production": {"model_version": 2}},
         "production.model_version"),
        ({"sources": ["production"], "production": {"model_version": ""}},
         "production.model_version"),
        ({"sources": ["production"], "production": {"kind": "thumb"}}, "production.kind"),
        ({"sources": ["production"], "sprints": [1]}, "sprints"),
        ({"sources": ["production"], "filters": {"min_agreement": 0.5}}, "filters.min_agreement"),
        ({"sources": ["production"], "filters": {"include_gold": True}}, "filters.include_gold"),
        ({"sources": ["sprints", "production"]}, "sprints"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_field_and_store_nothing(lead, sources, api_client_for, body, field):
    response = start(api_client_for(lead), **body)
    assert response.status_code == 400, response.json()
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert not DatasetVersion.objects.exists()
    assert not AuditEvent.objects.filter(action="export.started").exists()


# --- the real worker --------------------------------------------------------------------------


@pytest.mark.worker
def test_a_worker_builds_an_export_with_production_pairs(
    celery_worker_process, lead, sprint, api_client_for
):
    production_events(lead)
    labelled_item(sprint, 1)
    client = api_client_for(lead)
    response = start(client, sprints=[sprint.pk], sources=["sprints", "production"],
                     format="parquet")  # fmt: skip
    assert response.status_code == 202
    pk = response.json()["id"]
    wait_for(lambda: status(pk) == "done", 60, celery_worker_process, "the export")
    detail, body = downloaded(client, pk)
    table = pq.read_table(io.BytesIO(body))
    assert detail["rows"] == table.num_rows == 3
    assert table.column("origin").to_pylist() == ["sprints", "production", "production"]
    assert detail["manifest"]["parts"]["production"]["rows"] == 2
