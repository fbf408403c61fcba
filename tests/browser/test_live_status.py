"""Live status in a real headless Chromium: an export's and a training run's admin pages show
the job's status and progress (a percentage) as the row changes, without a reload, and the
models page's promote button asks before it promotes."""

import pytest

from exports.models import DatasetVersion
from tests.browser.helpers import log_in, watch_problems
from tests.browser.test_training_models import versions  # noqa: F401 (a fixture)
from tests.support.builders import export_of, training_run
from training.models import ModelStage, ModelVersion, RunStatus, TrainingRun

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


def log_in_as_lead(page) -> list[str]:
    problems = watch_problems(page)
    log_in(page, "lead")
    return problems


def mark_page(page) -> None:
    """A flag a reload would lose."""
    page.evaluate("window.notReloaded = true")


def still_same_page(page) -> bool:
    return page.evaluate("window.notReloaded === true")


@pytest.fixture
def export(sprint, lead):
    return export_of(sprint, lead, status="queued", rows=None)


def open_live(page, path: str):
    """Open a page with a live status box, check it shows ``queued``, and mark the page."""
    page.goto(path)
    box = page.locator("#live-status")
    expect(box.locator('[data-live="status"]')).to_have_text("queued")
    mark_page(page)
    return box


@pytest.mark.django_db(transaction=True)
def test_an_exports_status_changes_on_screen(export, chromium_page, screenshot_path):
    page = chromium_page
    problems = log_in_as_lead(page)
    box = open_live(page, f"/admin/exports/datasetversion/{export.pk}/change/")

    DatasetVersion.objects.filter(pk=export.pk).update(status="running", rows=40)
    expect(box.locator('[data-live="status"]')).to_have_text("running")
    expect(box.locator('[data-live="rows"]')).to_have_text("40")
    DatasetVersion.objects.filter(pk=export.pk).update(status="done", rows=120, sha256="ab" * 32)
    expect(box.locator('[data-live="status"]')).to_have_text("done")
    expect(box.locator('[data-live="rows"]')).to_have_text("120")
    expect(page.get_by_role("link", name="Show the file and its checksum")).to_be_visible()
    assert still_same_page(page)
    page.screenshot(path=screenshot_path("export-live-status"), full_page=True)
    assert problems == []


@pytest.fixture
def run(export, lead):
    DatasetVersion.objects.filter(pk=export.pk).update(status="done", rows=100)
    return training_run(export, lead, status=RunStatus.QUEUED, progress=0.0)


@pytest.mark.django_db(transaction=True)
def test_a_training_runs_progress_is_a_live_percentage(run, chromium_page, screenshot_path):
    page = chromium_page
    problems = log_in_as_lead(page)
    box = open_live(page, f"/admin/training/trainingrun/{run.pk}/change/")

    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, progress=2 / 3, current_step=20, total_steps=30
    )
    expect(box.locator('strong[data-live="progress"]')).to_have_text("67%")
    expect(box.locator('[data-live="current_step"]')).to_have_text("20 of 30")
    expect(box.locator('[data-live="status"]')).to_have_text("running")
    # The admin's own read-only field says the same, never the raw fraction.
    expect(page.locator(".field-progress .readonly")).to_have_text("67%")
    assert "0.666" not in page.locator("body").inner_text()

    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, error="CUDA out of memory", progress=0.8
    )
    expect(box.locator('[data-live="status"]')).to_have_text("failed")
    expect(box.locator('[data-live="error"]')).to_have_text("CUDA out of memory")
    expect(box.locator('strong[data-live="progress"]')).to_have_text("80%")
    assert still_same_page(page)
    page.screenshot(path=screenshot_path("training-run-live-status"), full_page=True)
    assert problems == []


@pytest.mark.django_db(transaction=True)
def test_promote_asks_first_then_promotes(versions, chromium_page):  # noqa: F811
    page, candidate = chromium_page, versions[2]
    problems = log_in_as_lead(page)
    page.goto("/training/models")
    row = page.locator(f'tr[data-model="{candidate.pk}"]')
    asked: list[str] = []

    # Cancelled: nothing changes.
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.get_by_role("button", name="Promote to production").click()
    expect(page.locator("#promote-status")).to_have_text("Nothing changed.")
    assert asked == [
        "Promote support-rm v3 to production? support-rm v2 is in production now and will be "
        "archived."
    ]
    assert ModelVersion.objects.get(pk=candidate.pk).stage == ModelStage.CANDIDATE

    # Confirmed: promoted through the API, the old production version archived, on screen.
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Promote to production").click()
    expect(page.locator("#promote-status")).to_have_text("support-rm v3 is in production.")
    expect(row.locator(".stage")).to_have_text("production")
    expect(page.locator(f'tr[data-model="{versions[1].pk}"] .stage')).to_have_text("archived")
    assert ModelVersion.objects.get(pk=candidate.pk).stage == ModelStage.PRODUCTION
    assert ModelVersion.objects.get(pk=versions[1].pk).stage == ModelStage.ARCHIVED
    assert problems == []
