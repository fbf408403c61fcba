"""The labeling page keeps the annotator's work and tells them where they stand, in a real
headless Chromium: a draft of the answers, typed text and time survives a reload, leaving a
started item asks first, status and validation are on screen in the questions' own words,
progress is shown and updated, and the page reads right at 1440 x 900 and 1024 x 700."""

import re

import pytest

from annotation.models import Judgment
from tests.annotation.labeling_fixtures import word_the_rubric
from tests.browser.test_labeling import make_item, press

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

LONG = "\n\n".join(f"Paragraph {n}: " + "a careful, long answer " * 12 for n in range(8))


@pytest.fixture
def feedback_sprint(sprint, rubric, annotator):
    """Four items (three pairs with long responses, then a ranking of three) under a rubric
    whose preference asks for the less harmful response, whose scale names its ends, and
    with an optional rationale."""
    word_the_rubric(rubric)
    rubric.criteria.create(name="rationale", kind="text", question="Why?", required=False)
    items = [
        make_item(sprint, f"pair-{n}", f"Question {n}", [f"Left {n}. {LONG}", f"Right {n}. {LONG}"])
        for n in range(3)
    ]
    items.append(make_item(sprint, "three", "Rank these", ["First.", "Second.", "Third."]))
    return sprint, items


def log_in(page) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ann1")
    page.get_by_label("Password").fill("pw-ann1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My sprints")).to_be_visible()


def open_labeling(page, sprint, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    log_in(page)
    page.goto(f"/sprints/{sprint.pk}/label")


def assignment_id(page) -> int:
    return page.evaluate(
        "JSON.parse(document.getElementById('panel-config').textContent).assignment"
    )


def timer_seconds(page) -> int:
    minutes, seconds = page.locator("#timer").inner_text().split(":")
    return int(minutes) * 60 + int(seconds)


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["height"] > 0
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and 0 <= box["x"] < size["width"]
    )


@pytest.mark.django_db(transaction=True)
def test_a_draft_survives_a_reload_and_leaving_asks_first(
    feedback_sprint, annotator, chromium_page
):
    sprint, _ = feedback_sprint
    page = chromium_page
    dialogs: list[str] = []
    leave = [True]  # the answer to the next "leave page?" prompt

    def on_dialog(dialog):
        dialogs.append(dialog.type)
        dialog.accept() if leave[0] else dialog.dismiss()  # "leave" or "stay on this page"

    page.on("dialog", on_dialog)
    log_in(page)
    page.goto(f"/sprints/{sprint.pk}/label")
    expect(page.locator("#progress")).to_have_text("4 left for me · 0 done today")
    first = assignment_id(page)
    # Part of the item: the first response, "clearly", a score for response 1, a rationale.
    press(page, "1", "w", "4", "/")
    page.keyboard.type("Left keeps the user safe.")
    press(page, "Escape")
    page.wait_for_timeout(2300)
    before = timer_seconds(page)
    assert before >= 2

    page.reload()  # asks first (the item is half answered); the test leaves
    assert dialogs == ["beforeunload"]
    expect(page.locator("#status")).to_have_text("Your unsent answers to this item are back.")
    assert assignment_id(page) == first
    expect(page.locator("[data-act=rank]").first).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-act=strength][aria-pressed=true]")).to_have_text("w clearly")
    expect(page.locator("[data-act=likert][aria-pressed=true]")).to_have_count(1)
    expect(page.locator("[data-act=likert][aria-pressed=true]")).to_have_text("4")
    expect(page.locator("#text-rationale")).to_have_value("Left keeps the user safe.")
    assert timer_seconds(page) >= before, "the timer goes on from the saved time"

    # Leaving by the logo asks first; staying keeps everything.
    leave[0] = False
    page.get_by_role("link", name="Concord", exact=True).click()  # the logo
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"] * 2
    assert page.url.endswith(f"/sprints/{sprint.pk}/label")
    expect(page.locator("#text-rationale")).to_have_value("Left keeps the user safe.")

    press(page, "3", "Enter")  # the last score, then submit
    expect(page.locator("#status")).to_have_text("Saved. Next item.")
    expect(page.locator("#progress")).to_have_text("3 left for me · 1 done today")
    key = f"concord-draft:{annotator.pk}:{first}"
    assert page.evaluate("key => localStorage.getItem(key)", key) is None
    judgment = Judgment.objects.get(assignment_id=first)
    assert judgment.answers["rationale"] == "Left keeps the user safe."
    assert judgment.answers["preference"]["strength"] == 2
    assert judgment.seconds >= before

    # An untouched item leaves without a prompt.
    page.get_by_role("link", name="Concord", exact=True).click()  # the logo
    expect(page.get_by_role("heading", name="My sprints")).to_be_visible()
    assert dialogs == ["beforeunload"] * 2


@pytest.mark.django_db(transaction=True)
def test_status_and_validation_are_on_screen_in_the_questions_words(
    feedback_sprint, annotator, chromium_page, screenshot_path
):
    page = chromium_page
    open_labeling(page, feedback_sprint[0], 1440, 900)
    status = page.locator("#status")
    press(page, "2")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    press(page, "Enter")  # early: helpfulness is not answered
    expect(status).to_have_text("Still to answer: How helpful is each response?")
    assert in_viewport(page, status), status.bounding_box()
    focused = page.evaluate("document.activeElement.dataset.field || ''")
    assert focused.startswith("likert:helpfulness:"), focused
    assert in_viewport(page, page.locator(f'[data-field="{focused}"]'))
    page.screenshot(path=screenshot_path("labeling-missing"))
    press(page, "4", "3")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    press(page, "Enter")
    expect(status).to_have_text("Saved. Next item.")
    assert in_viewport(page, status)
    assert in_viewport(page, page.locator("#progress"))


@pytest.mark.django_db(transaction=True)
def test_scale_words_choice_wording_layout_and_the_empty_queue(
    feedback_sprint, annotator, chromium_page, screenshot_path
):
    page = chromium_page
    open_labeling(page, feedback_sprint[0], 1024, 700)
    expect(page.locator("#panel")).to_contain_text("Question 0")
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") == 0, "the page opens at its top"
    assert in_viewport(page, page.locator(".toolbar"))
    expect(page.locator("[data-act=rank]")).to_have_text(
        ["1 Response 1 is less harmful", "2 Response 2 is less harmful"]
    )
    ends = page.locator(".scale-ends").first
    expect(ends).to_be_visible()
    expect(ends).to_have_text(re.compile(r"1 = useless\s*5 = perfect"))

    for _ in range(3):
        press(page, "1", "4", "4", "Enter")
        expect(page.locator("#status")).to_have_text("Saved. Next item.")
    expect(page.locator("#panel")).to_contain_text("Rank these")
    page.set_viewport_size({"width": 1440, "height": 900})
    tops = [box["y"] for box in map(lambda r: r.bounding_box(), page.locator(".response").all())]
    assert len(tops) == 3 and max(tops) - min(tops) < 1, f"side by side: {tops}"
    page.screenshot(path=screenshot_path("labeling-ranking-wide"))
    page.set_viewport_size({"width": 700, "height": 900})
    tops = [box["y"] for box in map(lambda r: r.bounding_box(), page.locator(".response").all())]
    assert tops == sorted(tops) and tops[0] < tops[1] < tops[2], f"stacked: {tops}"

    press(page, "2", "3", "5", "4", "3", "Enter")
    expect(page.get_by_role("heading", name="All done")).to_be_visible()
    expect(page.locator("#status")).to_have_text("Saved. Your queue is empty.")
    expect(page.locator("#progress")).to_have_text("0 left for me · 4 done today")
    expect(page.locator(".timer")).to_be_hidden()
    shown = page.locator("#timer").inner_text()
    page.wait_for_timeout(1300)
    assert page.locator("#timer").inner_text() == shown, "the timer stopped"
