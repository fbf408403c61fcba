# ruff: noqa: F811 (the pool fixture is imported from test_selection)
"""Issue 17, "active selection blocks a request for minutes": a selection is a background job.
The POST answers 202 with the status URL (and "the workers are unreachable" while the broker
refuses), a worker scores the pool writing its progress, a selection whose worker died is run
again by the job sweep and makes its sprint once, a failure keeps its reason, and the admin
starts one and shows it. Only leads of the source sprint start or read one."""

from datetime import timedelta
from io import StringIO

import pytest
from celery import current_app
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from annotation.models import BackgroundJob, JobStatus, Sprint
from annotation.services.job_sweep import sweep_background_jobs
from tests.support.dead_broker import dead_broker
from tests.training.test_selection import URL, pool  # noqa: F401 (fixture)
from training.models import ModelStage, ModelVersion, RunStatus, SelectionRun
from training.services.selection import SelectionRejected
from training.services.selection_jobs import SelectionForbidden, execute_selection, start_selection

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous


@pytest.fixture
def queue(lead, sprint, pool, trained_model_version, django_capture_on_commit_callbacks):
    """Ask for a selection from sprint A as its lead; its message is not sent."""

    def ask(**params) -> SelectionRun:
        with django_capture_on_commit_callbacks(execute=False):
            return start_selection(sprint, trained_model_version, actor=lead, **params)

    return ask


def job_of(selection: SelectionRun) -> BackgroundJob:
    return BackgroundJob.objects.get(kind="selection", key=str(selection.pk))


def test_progress_is_written_while_scoring_and_the_result_is_stored(queue, settings):
    # The pool is scored CONCORD_SCORE_MAX_ITEMS items per batched pass, progress after each.
    settings.CONCORD_SCORE_MAX_ITEMS = 5
    selection = queue(size=3, seed=1)
    assert selection.status == RunStatus.QUEUED and selection.params["slug"] == "sprint-a-next-2"
    BackgroundJob.objects.filter(pk=job_of(selection).pk).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    seen = []
    done = execute_selection(selection.pk, on_progress=lambda n, total: seen.append((n, total)))
    assert seen == [(5, 12), (10, 12), (12, 12)]
    assert (done.status, done.scored, done.total, done.progress) == ("done", 12, 12, 1.0)
    assert len(done.result["uncertain"]) + len(done.result["random"]) == 3
    assert Sprint.objects.get(pk=done.result["sprint"]).slug == "sprint-a-next-2"
    assert job_of(selection).heartbeat_at > timezone.now() - timedelta(minutes=1), "it beat"
    # A duplicate message after it finished does nothing.
    assert execute_selection(selection.pk) is None
    assert Sprint.objects.count() == 2


def test_a_selection_whose_worker_died_is_run_again_by_the_sweep(eager, queue):
    selection = queue(size=2)
    old = timezone.now() - timedelta(hours=1)
    SelectionRun.objects.filter(pk=selection.pk).update(status=RunStatus.RUNNING, scored=5)
    BackgroundJob.objects.filter(pk=job_of(selection).pk).update(
        status=JobStatus.RUNNING, attempts=1, heartbeat_at=old, started_at=old
    )

    report = sweep_background_jobs()

    assert report.republished == [job_of(selection).pk]
    selection.refresh_from_db()
    assert selection.status == RunStatus.DONE and selection.scored == 12
    assert (job_of(selection).status, job_of(selection).attempts) == (JobStatus.DONE, 2)
    assert Sprint.objects.filter(slug=selection.params["slug"]).count() == 1


def test_a_duplicate_message_while_a_worker_is_at_it_does_nothing(queue):
    """A redelivered message (the broker's visibility timeout passed during a long scoring)
    must not score the pool a second time beside the first worker: only a queued job is
    claimed; a worker that died is the sweep's, which queues its job again."""
    from training import tasks

    selection = queue(size=2)
    sprints = Sprint.objects.count()
    now = timezone.now()
    SelectionRun.objects.filter(pk=selection.pk).update(
        status=RunStatus.RUNNING, started_at=now, scored=5, total=12
    )
    job = job_of(selection)
    BackgroundJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, attempts=1, heartbeat_at=now, started_at=now
    )

    assert tasks.select_next_sprint(selection.pk, job.pk) is None
    selection.refresh_from_db()
    assert (selection.status, selection.scored) == (RunStatus.RUNNING, 5)
    assert Sprint.objects.count() == sprints  # no next sprint made


def test_a_failure_keeps_its_reason(queue):
    selection = queue(size=2)
    ModelVersion.objects.filter(pk=selection.model_id).update(stage=ModelStage.ARCHIVED)
    failed = execute_selection(selection.pk)
    assert failed.status == RunStatus.FAILED and "only a production model scores" in failed.error
    assert Sprint.objects.count() == 1


def test_a_selection_asked_while_the_broker_was_down_is_built_after_the_next_sweep(
    lead, sprint, pool, trained_model_version, api_client_for,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    """(The 202's own warning is checked with real commits in tests/test_broker_down.py.)"""
    client = api_client_for(lead)
    with dead_broker(), django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL.format(sprint.pk), {"size": 2}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["status_url"].endswith(f"/api/v1/selections/{body['id']}")
    queued = client.get(body["status_url"]).json()
    assert queued["status"] == "queued" and "workers are unreachable" in queued["warning"]
    assert (queued["scored"], queued["total"], queued["result"]) == (0, 0, None)

    current_app.conf.task_always_eager = True  # the beat's sweep, the broker back
    try:
        sweep_background_jobs()
    finally:
        current_app.conf.task_always_eager = False

    finished = client.get(body["status_url"]).json()
    assert finished["status"] == "done" and finished["warning"] is None
    assert finished["progress"] == 1.0 and finished["result"]["slug"] == "sprint-a-next-2"


def test_only_leads_of_the_source_start_or_read_a_selection(
    lead, annotator, reviewer, lead_b, sprint, pool, trained_model_version, api_client_for,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    with pytest.raises(SelectionForbidden):
        start_selection(sprint, trained_model_version, actor=lead_b, size=2)
    with django_capture_on_commit_callbacks(execute=False):
        selection = start_selection(sprint, trained_model_version, actor=lead, size=2)
    url = f"/api/v1/selections/{selection.pk}"
    assert api_client_for(lead).get(url).status_code == 200
    assert api_client_for(annotator).get(url).status_code == 403
    assert api_client_for(reviewer).get(url).status_code == 403
    assert api_client_for(lead_b).get(url).status_code == 404
    assert api_client_for(None).get(url).status_code == 401
    assert api_client_for(lead).get("/api/v1/selections/999999").status_code == 404


def test_the_service_refuses_a_model_of_another_team(
    lead, lead_b, sprint, other_sprint, pool, make_dataset, make_model_version, dataset
):
    """The service is the door: a lead of the source sprint may not score its pool with a
    production model trained from another team's sprint (the API and the admin form filter
    models too, but the management command and any other caller reach the service)."""
    theirs = make_model_version(
        make_dataset([other_sprint], created_by=lead_b),
        name="reward-b",
        stage=ModelStage.PRODUCTION,
    )
    with pytest.raises(SelectionRejected) as refused:
        start_selection(sprint, theirs, actor=lead, size=2)
    assert refused.value.problems[0]["field"] == "model"
    assert not SelectionRun.objects.exists()


def test_a_second_selection_gets_its_own_slug_and_a_reserved_one_is_refused(queue):
    first, second = queue(size=2), queue(size=2)
    assert (first.params["slug"], second.params["slug"]) == ("sprint-a-next-2", "sprint-a-next-3")
    with pytest.raises(SelectionRejected, match="will create 'sprint-a-next-2'"):
        queue(size=2, slug="sprint-a-next-2")


def test_the_admin_starts_a_selection_and_shows_its_progress(
    eager, lead, lead_b, sprint, pool, trained_model_version,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    lead.is_staff = True
    lead.save()
    client = Client()
    client.force_login(lead)
    page = client.get("/admin/training/selectionrun/start/")
    assert page.status_code == 200 and "Select the next sprint" in page.text
    bad = client.post("/admin/training/selectionrun/start/", {"source": sprint.pk})
    assert bad.status_code == 200 and not SelectionRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/training/selectionrun/start/",
            {"source": sprint.pk, "model": trained_model_version.pk, "size": 2,
             "random_share": 0, "seed": 0, "name": "", "slug": "round-2"},
        )  # fmt: skip
    selection = SelectionRun.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/training/selectionrun/{selection.pk}/change/")
    change = client.get(response["Location"])
    assert change.status_code == 200 and "100%" in change.text and "round-2" in change.text
    listing = client.get("/admin/training/selectionrun/")
    assert "Select the next sprint" in listing.text
    other = Client()
    other.force_login(lead_b)
    assert other.get(response["Location"]).status_code in (302, 404)


def test_the_command_selects_in_process_or_enqueues(lead, sprint, pool, trained_model_version):
    out = StringIO()
    call_command(
        "select_next_sprint", "sprint-a", model=trained_model_version.pk, size=2,
        random_share=0, no_progress=True, stdout=out,
    )  # fmt: skip
    assert "Sprint sprint-a-next-2" in out.getvalue() and "2 least certain" in out.getvalue()
    assert SelectionRun.objects.get().status == RunStatus.DONE
    assert not BackgroundJob.objects.exists(), "in-process: no job"
    with pytest.raises(CommandError, match="size"):
        call_command("select_next_sprint", "sprint-a", model=trained_model_version.pk, size=0)
    queued = StringIO()
    call_command(
        "select_next_sprint", "sprint-a", model=trained_model_version.pk, size=2, enqueue=True,
        stdout=queued,
    )  # fmt: skip
    assert "is queued for a worker" in queued.getvalue()
    assert BackgroundJob.objects.filter(kind="selection").count() == 1
