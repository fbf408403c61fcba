"""A reviewer settles a dispute in a real headless Chromium: the queue, the item with every
judgment unblinded, the adjudication form, and the adjudicated label it writes; the page runs
no inline script and logs no error under its Content-Security-Policy; and a reviewer who never
touches the mouse filters the queue by reason and settles disputes from the keyboard."""

import re

import pytest

from annotation.models import AuditEvent, ItemFlag
from reviews.models import ConsensusLabel, Dispute
from reviews.services.disputes import review_sprint
from tests.reviews.dispute_fixtures import make_items, people, vote

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def disputed_item(sprint, make_user):
    (item,) = make_items(sprint, 1)
    users = people(sprint, make_user, ["ada", "bo", "cy"])
    for user, ranking in zip(users, (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
        vote(item, user, ranking, strength=2, helpfulness={"a": 4, "b": 2})
    review_sprint(sprint)
    return item


def log_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()


def test_a_reviewer_resolves_a_dispute(
    sprint, disputed_item, reviewer, chromium_page, screenshot_path
):
    page = chromium_page
    problems = []

    def on_console(message) -> None:
        if not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, "rev1")
    response = page.goto(f"/reviews/sprints/{sprint.pk}/disputes")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#dispute-queue tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Review").click()

    expect(page.get_by_role("heading", name="Dispute on s-0")).to_be_visible()
    expect(page.locator("#reasons")).to_contain_text("agreement")
    expect(page.locator("#judgments tbody tr")).to_have_count(3)
    expect(page.locator('#judgments tr[data-annotator="sprint-a-cy"] .preference')).to_have_text(
        re.compile(r"^b \(their Response [12]\) > a \(their Response [12]\) \(strength 2\)$")
    )
    expect(page.locator("#consensus")).to_contain_text("a > b")
    page.get_by_label("Place 1").select_option("b")
    page.get_by_label("Place 2").select_option("a")
    page.get_by_label("Rationale").fill("Response a promises a refund the policy does not allow.")
    # Our one script, the keyboard shortcuts, from our own origin; no inline script.
    scripts = page.locator("script")
    assert [scripts.nth(n).get_attribute("src") for n in range(scripts.count())] == [
        "/static/reviews/dispute-keys.js"
    ]
    page.screenshot(path=screenshot_path("disputes"), full_page=True)
    page.get_by_role("button", name="Resolve and go to the next").click()

    expect(page.locator("#queue-empty")).to_be_visible()
    assert page.url.endswith(f"/reviews/sprints/{sprint.pk}/disputes")
    label = ConsensusLabel.objects.get(item=disputed_item)
    assert label.method == "adjudicated" and label.ranking == ["b", "a"]
    dispute = Dispute.objects.get(item=disputed_item)
    assert dispute.status == "resolved" and dispute.resolved_by == reviewer
    assert AuditEvent.objects.filter(action="dispute.resolved", actor=reviewer).exists()
    assert problems == []


def test_an_annotator_is_refused(sprint, disputed_item, annotator, chromium_page):
    page = chromium_page
    log_in(page, "ann1")
    response = page.goto(f"/reviews/sprints/{sprint.pk}/disputes")
    assert response is not None and response.status == 403


@pytest.fixture
def mixed_disputes(sprint, make_user):
    """Three open disputes: two split votes (2 annotators, 1:1) and one flagged item."""
    sprint.overlap_k = 2
    sprint.save(update_fields=["overlap_k"])
    split_one, split_two, flagged = make_items(sprint, 3)
    ada, bo = people(sprint, make_user, ["ada", "bo"])
    for item in (split_one, split_two):
        vote(item, ada, ["a", "b"], helpfulness={"a": 4, "b": 2})
        vote(item, bo, ["b", "a"], helpfulness={"a": 2, "b": 4})
    vote(flagged, ada, ["a", "b"])
    vote(flagged, bo, ["a", "b"])
    ItemFlag.objects.create(sprint=sprint, item=flagged, annotator=bo, reason="cut off")
    review_sprint(sprint)
    return split_one, split_two, flagged


def test_a_reviewer_filters_by_reason_and_settles_by_keyboard(
    sprint, mixed_disputes, reviewer, chromium_page
):
    split_one, split_two, flagged = mixed_disputes
    page = chromium_page
    log_in(page, "rev1")
    page.goto(f"/reviews/sprints/{sprint.pk}/disputes")
    filters = page.locator("#reason-filters")
    expect(filters).to_contain_text("All (3)")
    expect(filters).to_contain_text("An annotator flagged it (1)")
    filters.get_by_role("link", name=re.compile("^Split vote")).click()
    expect(page.locator("#dispute-queue tbody tr")).to_have_count(2)
    assert "reason=split" in page.url

    page.keyboard.press("j")
    expect(page.locator("#dispute-queue tbody tr.marked")).to_contain_text("s-0")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dispute on s-0")).to_be_visible()
    page.keyboard.press("2")  # b first; the last place fills itself
    expect(page.locator("#key-status")).to_contain_text("Final ranking: b > a")
    expect(page.get_by_label("Place 1")).to_have_value("b")
    expect(page.get_by_label("Place 2")).to_have_value("a")
    page.keyboard.press("r")
    page.keyboard.type("b answers the question; a asks for the password.")
    page.keyboard.press("Control+Enter")

    # The next dispute under the same filter, never the flagged one.
    expect(page.get_by_role("heading", name="Dispute on s-1")).to_be_visible()
    assert "reason=split" in page.url
    label = ConsensusLabel.objects.get(item=split_one)
    assert label.method == "adjudicated" and label.ranking == ["b", "a"]
    page.keyboard.press("Backspace")
    page.keyboard.press("1")
    page.keyboard.press("r")
    page.keyboard.type("a is right.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#queue-empty")).to_contain_text("Split vote")
    assert ConsensusLabel.objects.get(item=split_two).ranking == ["a", "b"]
    assert Dispute.objects.get(item=flagged).status == "open"
