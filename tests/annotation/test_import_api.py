"""The import endpoint and command as their users call them, and who may call them."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from annotation.models import Item, SprintMember, SprintRole
from tests.annotation.import_files import concord_row, write_jsonl

pytestmark = pytest.mark.django_db

CONTENT = "\n".join(json.dumps(concord_row(f"t-{i}")) for i in range(3)).encode()


def post(client, sprint_id, content=CONTENT, name="items.jsonl", **extra):
    return client.post(
        f"/api/v1/sprints/{sprint_id}/items/import",
        {"file": SimpleUploadedFile(name, content), **extra},
        format="multipart",
    )


def test_lead_imports_then_reimports(sprint, lead, api_client_for):
    client = api_client_for(lead)
    first = post(client, sprint.pk)
    assert first.status_code == 201
    assert first.json() == {"created": 3, "unchanged": 0}
    second = post(client, sprint.pk)
    assert second.status_code == 201
    assert second.json() == {"created": 0, "unchanged": 3}
    assert Item.objects.filter(sprint=sprint).count() == 3


def test_token_from_the_auth_endpoint_works_for_import(sprint, lead, client):
    token = client.post(
        "/api/v1/auth/token",
        {"username": "lead", "password": "pw-lead"},
        content_type="application/json",
    ).json()["token"]
    response = client.post(
        f"/api/v1/sprints/{sprint.pk}/items/import",
        {"file": SimpleUploadedFile("items.jsonl", CONTENT)},
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert response.status_code == 201


def test_explicit_format_overrides_the_file_name(sprint, lead, api_client_for):
    csv_content = b"external_id,prompt,response_a,response_b\nc-1,Q?,yes,no\n"
    response = post(api_client_for(lead), sprint.pk, csv_content, name="export.txt", format="csv")
    assert response.status_code == 201 and response.json()["created"] == 1


def test_anonymous_caller_gets_401(sprint, api_client_for):
    response = post(api_client_for(None), sprint.pk)
    assert response.status_code == 401
    assert "detail" in response.json()
    assert Item.objects.count() == 0


@pytest.mark.parametrize("fixture", ["annotator", "reviewer"])
def test_annotators_and_reviewers_cannot_import(fixture, request, sprint, api_client_for):
    user = request.getfixturevalue(fixture)
    response = post(api_client_for(user), sprint.pk)
    assert response.status_code == 403
    assert Item.objects.count() == 0


def test_lead_of_another_sprint_gets_404_not_a_hint(sprint, other_sprint, lead, api_client_for):
    response = post(api_client_for(lead), other_sprint.pk)
    assert response.status_code == 404
    assert Item.objects.count() == 0


def test_unknown_sprint_is_404(lead, api_client_for):
    assert post(api_client_for(lead), 999999).status_code == 404


def test_staff_without_lead_role_in_the_sprint_cannot_import(sprint, make_user, api_client_for):
    staff = make_user("staffer", is_staff=True)
    SprintMember.objects.create(sprint=sprint, user=staff, role=SprintRole.ANNOTATOR)
    assert post(api_client_for(staff), sprint.pk).status_code == 403


def test_superuser_may_import_anywhere(other_sprint, make_user, api_client_for):
    admin = make_user("root", is_superuser=True, is_staff=True)
    assert post(api_client_for(admin), other_sprint.pk).status_code == 201


def test_inactive_lead_is_refused(sprint, lead, api_client_for):
    client = api_client_for(lead)
    lead.is_active = False
    lead.save()
    assert post(client, sprint.pk).status_code in (401, 403)
    assert Item.objects.count() == 0


def test_command_imports_and_reports_counts(sprint, lead, tmp_path, capsys):
    path = write_jsonl(tmp_path / "items.jsonl", [concord_row(f"t-{i}") for i in range(4)])
    call_command("import_items", str(path), sprint=sprint.slug, user="lead")
    captured = capsys.readouterr()
    assert "4 created, 0 unchanged" in captured.out
    assert "items.jsonl" in captured.err  # the progress bar
    call_command("import_items", str(path), sprint=sprint.slug, no_progress=True)
    assert "0 created, 4 unchanged" in capsys.readouterr().out


def test_command_errors_for_unknown_sprint_user_or_file(sprint, tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [concord_row("t-1")])
    with pytest.raises(CommandError, match="no sprint"):
        call_command("import_items", str(path), sprint="nope")
    with pytest.raises(CommandError, match="no user"):
        call_command("import_items", str(path), sprint=sprint.slug, user="ghost")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_items", str(tmp_path / "missing.jsonl"), sprint=sprint.slug)
    assert Item.objects.count() == 0


def test_upload_over_the_size_limit_is_refused(sprint, lead, api_client_for, settings):
    settings.CONCORD_IMPORT_MAX_BYTES = 100
    response = post(api_client_for(lead), sprint.pk)
    assert response.status_code == 400
    assert "CONCORD_IMPORT_MAX_BYTES" in response.json()["errors"][0]["message"]
    assert Item.objects.count() == 0
