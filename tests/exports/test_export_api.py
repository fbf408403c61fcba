"""The exports API: start, status, list, download; who may see what; bad requests store nothing;
and ``manage.py export_dataset``."""

import hashlib

import pytest
from django.core.management import CommandError, call_command

from annotation.models import AuditEvent, SprintMember, SprintRole
from exports.models import DatasetVersion
from exports.services.build import build_dataset, start_export
from tests.exports.export_fixtures import labelled_item

pytestmark = pytest.mark.django_db


def start(client, sprints, **body):
    return client.post(
        "/api/v1/exports", {"sprints": sprints, "kind": "preference", "format": "jsonl", **body},
        format="json",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("jsonl", "application/x-ndjson"), ("parquet", "application/vnd.apache.parquet"),
     ("csv", "text/csv; charset=utf-8")],
)  # fmt: skip
def test_lead_starts_an_export_and_downloads_the_file(
    lead, sprint, api_client_for, eager_celery, django_capture_on_commit_callbacks, fmt,
    content_type,
):  # fmt: skip
    labelled_item(sprint, 1)
    client = api_client_for(lead)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = start(client, [sprint.pk], format=fmt, filters={"test_fraction": 0.5})
    assert response.status_code == 202
    assert len(callbacks) == 1, "the build is enqueued once, on commit"
    assert set(response.json()) == {"id", "status"}
    pk = response.json()["id"]

    detail = client.get(f"/api/v1/exports/{pk}").json()
    assert detail["status"] == "done" and detail["rows"] == 1
    assert detail["manifest"]["sha256"] == detail["sha256"]
    assert detail["download"].endswith(f"/api/v1/exports/{pk}/download")

    download = client.get(f"/api/v1/exports/{pk}/download")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == detail["sha256"]
    assert download["Content-Type"] == content_type
    assert f'filename="concord-preference-{pk}.{fmt}"' in download["Content-Disposition"]
    assert AuditEvent.objects.filter(action="export.started", object_id=str(pk)).exists()


def test_the_build_is_not_enqueued_before_commit(
    lead, sprint, api_client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = start(api_client_for(lead), [sprint.pk])
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert len(callbacks) == 1
    assert DatasetVersion.objects.get().status == "queued"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "everything"}, "kind"),
        ({"format": "xlsx"}, "format"),
        ({"filters": {"colour": "blue"}}, "filters.colour"),
        ({"filters": {"test_fraction": 1.5}}, "filters.test_fraction"),
        ({"filters": {"test_fraction": "0.1"}}, "filters.test_fraction"),
        ({"filters": {"seed": -1}}, "filters.seed"),
        ({"filters": {"min_agreement": "high"}}, "filters.min_agreement"),
        ({"filters": {"min_agreement": 2}}, "filters.min_agreement"),
        ({"filters": {"include_gold": "yes"}}, "filters.include_gold"),
        ({"filters": {"adjudicated_only": 1}}, "filters.adjudicated_only"),
        ({"filters": {"form": "chatty"}}, "filters.form"),
        ({"filters": []}, "filters"),
        ({"extra": 1}, "extra"),
        ({"kind": "judgments", "filters": {"test_fraction": 0.2}}, "filters.test_fraction"),
        ({"kind": "judgments", "filters": {"min_agreement": 0.5}}, "filters.min_agreement"),
    ],
)
def test_bad_requests_are_rejected_and_store_nothing(lead, sprint, api_client_for, body, field):
    response = start(api_client_for(lead), [sprint.pk], **body)
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not DatasetVersion.objects.exists()
    assert not AuditEvent.objects.filter(action="export.started").exists()


@pytest.mark.parametrize("sprints", [[], "1", [True], None, [2**70], ["1"]])
def test_bad_sprint_lists_are_rejected(lead, sprint, api_client_for, sprints):
    response = start(api_client_for(lead), sprints)
    assert response.status_code == 400
    # 2**70 is refused by the API's JSON parser, which names the element: sprints[0]
    assert response.json()["errors"][0]["field"].split("[")[0] == "sprints"
    assert not DatasetVersion.objects.exists()


def test_a_body_that_is_not_an_object_is_rejected(lead, sprint, api_client_for):
    response = api_client_for(lead).post("/api/v1/exports", [sprint.pk], format="json")
    assert response.status_code == 400
    assert not DatasetVersion.objects.exists()


def test_a_lead_cannot_export_a_sprint_they_do_not_lead(
    lead, annotator, reviewer, sprint, other_sprint, api_client_for
):
    for user, sprints in [(lead, [other_sprint.pk]), (lead, [sprint.pk, other_sprint.pk]),
                          (annotator, [sprint.pk]), (reviewer, [sprint.pk]),
                          (lead, [999999])]:  # fmt: skip
        response = start(api_client_for(user), sprints)
        assert response.status_code == 400, user
        assert "does not exist or you do not lead it" in response.json()["errors"][0]["message"]
    assert not DatasetVersion.objects.exists()
    assert start(api_client_for(None), [sprint.pk]).status_code == 401


def test_only_leads_of_every_sprint_see_an_export(
    lead, annotator, reviewer, sprint, other_sprint, make_user, api_client_for
):
    SprintMember.objects.create(sprint=other_sprint, user=lead, role=SprintRole.LEAD)
    labelled_item(sprint, 1)
    both = start_export(lead, {"sprints": [sprint.pk, other_sprint.pk]}, enqueue_build=False)
    build_dataset(both.pk)
    lead_of_b = make_user("lead-b", is_staff=True)
    SprintMember.objects.create(sprint=other_sprint, user=lead_of_b, role=SprintRole.LEAD)
    annotator_of_b = make_user("ann-b")
    SprintMember.objects.create(sprint=other_sprint, user=annotator_of_b)
    outsider = make_user("outsider")
    for user in (annotator, reviewer, lead_of_b, annotator_of_b, outsider):
        client = api_client_for(user)
        assert client.get(f"/api/v1/exports/{both.pk}").status_code == 404, user
        assert client.get(f"/api/v1/exports/{both.pk}/download").status_code == 404, user
        assert client.get("/api/v1/exports").json()["results"] == []
    anonymous = api_client_for(None)
    assert anonymous.get(f"/api/v1/exports/{both.pk}").status_code == 401
    assert anonymous.get(f"/api/v1/exports/{both.pk}/download").status_code == 401
    assert anonymous.get("/api/v1/exports").status_code == 401
    lead_client = api_client_for(lead)
    assert lead_client.get(f"/api/v1/exports/{both.pk}/download").status_code == 200
    assert [e["id"] for e in lead_client.get("/api/v1/exports").json()["results"]] == [both.pk]
    superuser = make_user("root", is_superuser=True, is_staff=True)
    assert api_client_for(superuser).get(f"/api/v1/exports/{both.pk}").status_code == 200


def test_an_annotator_cannot_reach_another_sprints_export(
    lead, sprint, other_sprint, make_user, api_client_for
):
    """The export of sprint B, seen by an annotator of sprint A and by one of sprint B."""
    lead_b = make_user("lead-b", is_staff=True)
    SprintMember.objects.create(sprint=other_sprint, user=lead_b, role=SprintRole.LEAD)
    labelled_item(other_sprint, 1)
    theirs = start_export(lead_b, {"sprints": [other_sprint.pk]}, enqueue_build=False)
    build_dataset(theirs.pk)
    for role_of_a in (SprintRole.ANNOTATOR, SprintRole.REVIEWER):
        user = make_user(f"a-{role_of_a}")
        SprintMember.objects.create(sprint=sprint, user=user, role=role_of_a)
        SprintMember.objects.create(sprint=other_sprint, user=user, role=SprintRole.ANNOTATOR)
        client = api_client_for(user)
        assert client.get(f"/api/v1/exports/{theirs.pk}").status_code == 404
        assert client.get(f"/api/v1/exports/{theirs.pk}/download").status_code == 404
    assert api_client_for(lead).get(f"/api/v1/exports/{theirs.pk}").status_code == 404


def test_download_of_an_unfinished_export_is_404(lead, sprint, api_client_for):
    dataset = start_export(lead, {"sprints": [sprint.pk]}, enqueue_build=False)
    response = api_client_for(lead).get(f"/api/v1/exports/{dataset.pk}/download")
    assert response.status_code == 404 and "no file yet" in response.json()["detail"]
    assert api_client_for(lead).get(f"/api/v1/exports/{dataset.pk}").json()["download"] is None


def test_export_dataset_command_builds_in_process(lead, sprint, capsys):
    labelled_item(sprint, 1)
    call_command("export_dataset", sprint.slug, "--user", "lead", "--format", "parquet",
                 "--filters", '{"test_fraction": 0.5}', verbosity=0)  # fmt: skip
    dataset = DatasetVersion.objects.get()
    assert dataset.status == "done" and dataset.rows == 1
    assert dataset.filters["test_fraction"] == 0.5
    assert dataset.sha256 in capsys.readouterr().out


def test_export_dataset_command_can_enqueue(lead, sprint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("export_dataset", str(sprint.pk), "--user", "lead", "--enqueue")
    assert len(callbacks) == 1 and DatasetVersion.objects.get().status == "queued"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sprint-a", "--user", "nobody"], "no user"),
        (["no-such-sprint", "--user", "lead"], "no sprint"),
        (["sprint-b", "--user", "lead"], "do not lead"),
        (["sprint-a", "--user", "lead", "--filters", "{nope"], "not JSON"),
        (["sprint-a", "--user", "lead", "--kind", "all"], "kind"),
    ],
)
def test_export_dataset_command_refuses_bad_input(lead, sprint, other_sprint, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_dataset", *args, verbosity=0)
    assert not DatasetVersion.objects.exists()
