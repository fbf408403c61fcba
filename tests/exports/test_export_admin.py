"""Exports in the admin: a lead starts one of a sprint they lead and sees only exports of
sprints they lead; nobody edits or deletes an export there."""

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import SprintMember, SprintRole
from exports.models import DatasetVersion
from tests.exports.export_fixtures import export, labelled_item

pytestmark = pytest.mark.django_db

ADD = reverse("admin:exports_datasetversion_add")
CHANGELIST = reverse("admin:exports_datasetversion_changelist")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def lead_b(make_user, other_sprint):
    user = make_user("lead-b", is_staff=True)
    SprintMember.objects.create(sprint=other_sprint, user=user, role=SprintRole.LEAD)
    return user


def test_a_lead_starts_an_export_from_the_add_page(
    lead, sprint, other_sprint, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    page = client.get(ADD)
    assert page.status_code == 200
    offered = list(page.context["adminform"].form.fields["sprints"].queryset)
    assert offered == [sprint], "only sprints the lead leads are offered"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(ADD, {
            "sprints": [sprint.pk], "kind": "preference", "format": "parquet",
            "filters": '{"test_fraction": 0.2}',
        })  # fmt: skip
    assert response.status_code == 302
    dataset = DatasetVersion.objects.get()
    assert (dataset.kind, dataset.format, dataset.status) == ("preference", "parquet", "queued")
    assert list(dataset.sprints.all()) == [sprint] and dataset.created_by == lead
    assert dataset.filters["test_fraction"] == 0.2 and dataset.filters["include_gold"] is False
    assert len(callbacks) == 1, "the build is enqueued on commit"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"filters": '{"colour": "blue"}'}, "filters.colour: is not a known filter"),
        ({"filters": '{"test_fraction": 2}'}, "filters.test_fraction"),
        ({"sprints": "other"}, "Select a valid choice"),
    ],
)
def test_the_add_page_refuses_what_the_api_refuses(lead, sprint, other_sprint, form, error):
    data = {"sprints": [sprint.pk], "kind": "preference", "format": "jsonl", "filters": "{}"}
    data.update(form)
    if data["sprints"] == "other":
        data["sprints"] = [other_sprint.pk]
    response = client_for(lead).post(ADD, data)
    assert response.status_code == 200
    assert error in response.text
    assert not DatasetVersion.objects.exists()


def test_each_lead_sees_only_exports_of_their_sprints(lead, lead_b, sprint, other_sprint):
    labelled_item(sprint, 1)
    mine = export(lead, sprint)
    theirs = export(lead_b, other_sprint)
    listing = client_for(lead).get(CHANGELIST)
    assert list(listing.context["cl"].result_list) == [mine]
    assert f"/api/v1/exports/{mine.pk}/download" in listing.text
    download = client_for(lead).get(f"/api/v1/exports/{mine.pk}/download")
    assert download.status_code == 200  # the admin's session is enough
    assert "Dataset versions" in client_for(lead).get(reverse("admin:index")).text
    change = reverse("admin:exports_datasetversion_change", args=[theirs.pk])
    assert client_for(lead).get(change).status_code == 302  # "does not exist", back to the index
    own = client_for(lead).get(reverse("admin:exports_datasetversion_change", args=[mine.pk]))
    assert own.status_code == 200 and mine.sha256 in own.text
    assert "Save" not in own.text


def test_exports_cannot_be_deleted_or_changed(lead, sprint):
    mine = export(lead, sprint)
    client = client_for(lead)
    delete = reverse("admin:exports_datasetversion_delete", args=[mine.pk])
    assert client.get(delete).status_code == 403
    change = reverse("admin:exports_datasetversion_change", args=[mine.pk])
    client.post(change, {"kind": "judgments"})
    mine.refresh_from_db()
    assert mine.kind == "preference"


def test_staff_who_lead_nothing_do_not_get_the_page(make_user, sprint):
    reviewer = make_user("staff-reviewer", is_staff=True)
    SprintMember.objects.create(sprint=sprint, user=reviewer, role=SprintRole.REVIEWER)
    client = client_for(reviewer)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(ADD).status_code == 403
    assert "Dataset versions" not in client.get(reverse("admin:index")).text
