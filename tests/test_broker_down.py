"""Issue 13, "Broker down": with the Celery broker unreachable (Redis on a port where nothing
listens), every write that hands work to a worker is stored and answered with its success
status, never a 500; the caller is told the job is queued while the workers are unreachable,
and the job row waits for the sweep (tests/test_job_sweep.py runs it, then a real worker).

As found: a judgment and a flag were stored and then answered 500 (the robust on-commit hook
was handed a ``functools.partial``, which Django 5.2 cannot log), an export answered 500 after
storing a queued row, and a training run answered 500 after its row was stored. Active
selection is a background job too: 202 with the same warning.

The writes commit for real (``transaction=True``): the message is sent on commit, which a
test's wrapping transaction would never reach."""

import pytest
from django.test import Client

from annotation.models import BackgroundJob, ItemFlag, Judgment
from exports.models import DatasetVersion
from tests.support.dead_broker import background_writes, dead_broker
from tests.training.conftest import (  # noqa: F401 (fixtures)
    dataset,
    make_dataset,
    make_model_version,
    trained_model_dir,
    trained_model_version,
)
from training.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)

UNREACHABLE = "workers are unreachable"


@pytest.fixture
def writes(sprint, annotator, lead, dataset, api_client_for):  # noqa: F811
    with dead_broker():
        return background_writes(sprint, annotator, lead, dataset, api_client_for)


def unpublished(kind: str) -> list[BackgroundJob]:
    return list(BackgroundJob.objects.filter(kind=kind, status="queued", published_at=None))


def test_a_judgment_and_a_flag_are_stored_and_answered_201(writes):
    assert writes.judgment.status_code == 201, writes.judgment.content
    assert writes.flag.status_code == 201, writes.flag.content
    judgment, flag = Judgment.objects.get(), ItemFlag.objects.get()
    reviews = unpublished("review")
    assert sorted(job.key for job in reviews) == sorted([str(judgment.item_id), str(flag.item_id)])
    assert all(UNREACHABLE in job.last_error for job in reviews)


@pytest.mark.parametrize(
    ("write", "kind", "model", "url"),
    [
        ("export", "export", DatasetVersion, "/api/v1/exports/{}"),
        ("run", "training", TrainingRun, "/api/v1/training-runs/{}"),
    ],
)
def test_an_export_and_a_run_are_accepted_as_queued_with_the_workers_unreachable(
    writes, lead, api_client_for, write, kind, model, url
):
    response = getattr(writes, write)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and UNREACHABLE in body["warning"]
    assert model.objects.get(pk=body["id"]).status == "queued"
    assert [job.key for job in unpublished(kind)] == [str(body["id"])]
    detail = api_client_for(lead).get(url.format(body["id"])).json()
    assert detail["status"] == "queued" and UNREACHABLE in detail["warning"]
    # The lead's admin page of the export or run says so too.
    client = Client()
    client.force_login(lead)
    admin_page = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{body['id']}/change/"
    page = client.get(admin_page)
    assert page.status_code == 200 and UNREACHABLE in page.text


def test_with_the_broker_up_nothing_warns(sprint, annotator, lead, dataset, api_client_for):  # noqa: F811
    made = background_writes(sprint, annotator, lead, dataset, api_client_for)
    assert made.judgment.status_code == 201 and made.flag.status_code == 201
    assert "warning" not in made.export.json() and "warning" not in made.run.json()
    assert not BackgroundJob.objects.filter(published_at=None).exists()
    assert BackgroundJob.objects.filter(kind="export").count() == 1


def test_active_selection_is_accepted_as_queued_with_the_workers_unreachable(
    sprint,
    lead,
    trained_model_version,  # noqa: F811
    api_client_for,
):
    from tests.annotation.labeling_fixtures import add_items

    add_items(sprint, 4, prefix="pool")
    with dead_broker():
        response = api_client_for(lead).post(
            f"/api/v1/sprints/{sprint.pk}/select-next",
            {"size": 2, "random_share": 0, "model": trained_model_version.pk},
            format="json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and UNREACHABLE in body["warning"]
    assert [job.key for job in unpublished("selection")] == [str(body["id"])]
    status = api_client_for(lead).get(body["status_url"]).json()
    assert status["status"] == "queued" and UNREACHABLE in status["warning"]
