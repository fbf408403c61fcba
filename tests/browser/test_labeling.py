"""An annotator labels a sprint in a real headless Chromium with the keyboard alone: three
items judged (one of them hostile, whose script must never run, and which they flag for the
reviewers before answering it), one skipped with a reason, then one judgment revised from the
home page. The database must hold exactly that."""

import pytest

from annotation.models import (
    Assignment,
    Criterion,
    CriterionKind,
    Item,
    ItemFlag,
    Judgment,
    Response,
)

pytestmark = pytest.mark.browser
# Skips on a machine without the package (a failure in CI, where nothing may skip).
expect = pytest.importorskip("playwright.sync_api").expect

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'


def make_item(sprint, external_id, prompt, texts, **extra) -> Item:
    item = Item.objects.create(
        sprint=sprint,
        external_id=external_id,
        prompt=prompt,
        content_sha256=external_id.ljust(64, "0"),
        metadata={"source": "secret-source"},
        **extra,
    )
    for position, text in enumerate(texts):
        Response.objects.create(
            item=item,
            key="abc"[position],
            text=text,
            model_name=f"secret-model-{position}",
            position=position,
        )
    return item


@pytest.fixture
def labeling_sprint(sprint, rubric, annotator):
    Criterion.objects.create(
        rubric=rubric,
        name="unsafe",
        kind=CriterionKind.FLAG,
        question="Is the response unsafe?",
        required=False,
        position=2,
    )
    Criterion.objects.create(
        rubric=rubric,
        name="rationale",
        kind=CriterionKind.TEXT,
        question="Why? (optional)",
        required=False,
        position=3,
    )
    rubric.guidelines = "## How to judge\n\n- Prefer **correct** answers.\n- Then grounded ones."
    rubric.save()
    items = {
        "hostile": make_item(
            sprint,
            "hostile",
            [
                {"role": "system", "content": "You answer account questions."},
                {"role": "user", "content": "How do I reset my password?"},
            ],
            [
                f"Click *Reset*.\n\n{SCRIPT}\n\n```bash\nreset --user me\n```",
                f"Ask support. {IMG}",
            ],
            context=[
                {
                    "id": "kb-12",
                    "title": "Account help",
                    "text": "Use the **Reset** link on the login page.",
                    "source": "https://kb.example/12",
                }
            ],
        ),
        "ranked": make_item(
            sprint, "ranked", "Rank these three answers", ["First.", "Second.", "Third."]
        ),
        "skipped": make_item(sprint, "skipped", "Skip this one", ["Yes.", "No."]),
        "tied": make_item(sprint, "tied", "Tie these two", ["Same.", "Also same."]),
    }
    return sprint, items


def response_ids(page) -> list[str]:
    return page.locator("[data-response-id]").evaluate_all(
        "elements => elements.map(e => e.dataset.responseId)"
    )


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


@pytest.mark.django_db(transaction=True)
def test_annotator_labels_skips_and_revises_by_keyboard(
    labeling_sprint, annotator, chromium_page, screenshot_path
):
    sprint, items = labeling_sprint
    page = chromium_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Chromium reports a blocked script, style or request as a console error naming the policy.
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and errors.append(message.text),
    )

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ann1")
    page.get_by_label("Password").fill("pw-ann1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My sprints")).to_be_visible()
    labeling = page.goto(f"/sprints/{sprint.pk}/label")
    assert "frame-ancestors 'none'" in labeling.headers["content-security-policy"]
    panel = page.locator("#panel")

    # 1. The hostile item: its HTML is shown as text, and nothing of it runs.
    expect(panel).to_contain_text("How do I reset my password?")
    expect(page.get_by_text(SCRIPT)).to_be_visible()
    expect(page.get_by_text(IMG)).to_be_visible()
    assert page.locator("#panel img, #panel script:not([type='application/json'])").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    expect(page.locator(".turn-system .role")).to_have_text("system")
    expect(page.locator("pre code")).to_contain_text("reset --user me")
    first = response_ids(page)
    press(page, "d")  # open the context documents
    expect(page.get_by_text("Use the Reset link on the login page.")).to_be_visible()
    press(page, "g")  # the guidelines, one key away
    expect(page.locator("#guidelines")).to_contain_text("Prefer correct answers.")
    press(page, "g")
    expect(page.locator("#guidelines")).to_be_hidden()
    # Flag it for the reviewers: f opens the reason box (Esc closes it, nothing sent), Enter
    # sends; the item stays on screen to be answered.
    expect(page.locator(".keys")).to_contain_text("flag the item for reviewers")
    press(page, "f")
    expect(page.locator("#item-flag-reason")).to_be_focused()
    press(page, "Escape")
    expect(page.locator("#item-flag-form")).to_be_hidden()
    press(page, "f")
    page.keyboard.type("Response 2 holds an image tag.")
    press(page, "Enter")
    expect(page.locator("#status")).to_have_text(
        "Flagged for the reviewers. You can still answer or skip it."
    )
    expect(page.locator("#item-flag-form")).to_be_hidden()
    expect(page.locator("[data-act=item-flag]")).to_have_attribute("aria-pressed", "true")
    assert response_ids(page) == first, "still the same item"
    page.wait_for_timeout(1100)  # so the timer has a second to report
    press(page, "1", "w", "4", "3", "x", "2")
    expect(page.locator("[data-act=strength][aria-pressed=true]")).to_have_text("w clearly")
    page.screenshot(path=screenshot_path("labeling"), full_page=True)
    press(page, "Enter")

    # 2. Three responses: a ranking by numbers, one undo, scores, a rationale.
    expect(panel).to_contain_text("Rank these three answers")
    ranked = response_ids(page)
    assert len(ranked) == 3
    press(page, "1", "Backspace", "2", "3")
    expect(page.locator("#ranking li")).to_have_text(["Response 2", "Response 3", "Response 1"])
    expect(page.locator("[data-rank-of]")).to_have_text(["#3", "#1", "#2"])
    page.screenshot(path=screenshot_path("labeling-ranking"), full_page=True)
    press(page, "5", "4", "3", "/")
    page.keyboard.type("Second is clearest.")
    press(page, "Control+Enter")

    # 3. Skipped with a reason.
    expect(panel).to_contain_text("Skip this one")
    press(page, "s")
    expect(page.locator("#skip-reason")).to_be_focused()
    page.keyboard.type("I cannot judge this topic.")
    press(page, "Enter")

    # 4. A tie, then the queue is empty.
    expect(panel).to_contain_text("Tie these two")
    tied = response_ids(page)
    press(page, "t", "3", "3", "Enter")
    expect(page.get_by_role("heading", name="All done")).to_be_visible()
    assert page.evaluate("typeof window.__xss") == "undefined"

    # Revise the tie from the home page: prefilled, changed by keyboard, saved.
    page.goto("/")
    expect(page.get_by_role("cell", name="3 / 4")).to_be_visible()
    tie_judgment = Judgment.objects.get(item=items["tied"])
    page.get_by_role("link", name=f"Revise judgment {tie_judgment.pk}").click()
    expect(
        page.get_by_role("heading", name=f"Revise your judgment · {sprint.name}")
    ).to_be_visible()
    expect(page.locator("[data-act=tie]")).to_have_attribute("aria-pressed", "true")
    assert response_ids(page) == tied, "the same order as when it was labeled"
    press(page, "1", "e", "Enter")
    expect(page.get_by_text("Your revision is saved.")).to_be_visible()

    assert dialogs == [] and errors == []
    flag = ItemFlag.objects.get()
    assert (flag.item, flag.annotator, flag.reason) == (
        items["hostile"],
        annotator,
        "Response 2 holds an image tag.",
    )
    judgments = Judgment.objects.filter(sprint=sprint)
    assert judgments.count() == 4
    assert judgments.filter(supersedes__isnull=True).count() == 3
    hostile = Judgment.objects.get(item=items["hostile"])
    assert hostile.answers == {
        "preference": {"ranking": [first[0], first[1]], "strength": 2},
        "helpfulness": {first[0]: 4, first[1]: 3},
        "unsafe": {first[0]: False, first[1]: True},
    }
    assert hostile.seconds is not None and hostile.seconds >= 1
    assert Judgment.objects.get(item=items["ranked"]).answers == {
        "preference": {"ranking": [ranked[1], ranked[2], ranked[0]]},
        "helpfulness": {ranked[0]: 5, ranked[1]: 4, ranked[2]: 3},
        "unsafe": dict.fromkeys(ranked, False),
        "rationale": "Second is clearest.",
    }
    revision = judgments.get(supersedes=tie_judgment)
    assert tie_judgment.answers["preference"] == {"tie": True}
    assert revision.answers["preference"] == {"ranking": [tied[0], tied[1]], "strength": 3}
    assert revision.answers["helpfulness"] == {tied[0]: 3, tied[1]: 3}
    skipped = Assignment.objects.get(status="skipped")
    assert skipped.item == items["skipped"] and skipped.annotator == annotator
    assert skipped.skip_reason == "I cannot judge this topic."
    assert not Judgment.objects.filter(item=items["skipped"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_lost_answer_is_retried_with_the_same_idempotency_key(
    labeling_sprint, annotator, chromium_page
):
    """The first submit reaches the server but its answer is lost on the way back: the page
    retries with the same key and body, and the server answers with the judgment it stored."""
    sprint, items = labeling_sprint
    page = chromium_page
    keys: list[str] = []
    lost: list[int] = []

    def lose_first_answer(route):
        keys.append(route.request.headers.get("idempotency-key", ""))
        if not lost:
            lost.append(route.fetch().status)  # the server stores it...
            route.abort()  # ...and the answer never arrives
        else:
            route.continue_()

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ann1")
    page.get_by_label("Password").fill("pw-ann1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My sprints")).to_be_visible()
    page.route("**/api/v1/judgments", lose_first_answer)
    page.goto(f"/sprints/{sprint.pk}/label")
    expect(page.locator("#panel")).to_contain_text("How do I reset my password?")
    press(page, "2", "3", "3", "Enter")
    expect(page.locator("#panel")).to_contain_text("Rank these three answers")

    assert lost == [201]
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) == 36
    assert Judgment.objects.filter(item=items["hostile"]).count() == 1
