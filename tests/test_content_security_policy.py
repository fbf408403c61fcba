"""One Content-Security-Policy header on every HTML response, from one middleware.

As found: 10 of 80 page loads had one; the admin, home, login, browsable API and API docs had
none, and the labeling page carried a ``<meta>`` policy, which cannot say ``frame-ancestors``.
Every page is fetched here as the role that may see it; a page added to the project's page URL
modules without a row here fails :func:`test_every_page_url_is_covered`.
"""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from annotation.services.judgments import submit_judgment
from reviews.models import Dispute
from reviews.services.disputes import review_sprint
from tests.annotation.labeling_fixtures import add_items, good_answers, lease_item
from tests.reviews.dispute_fixtures import make_items, people, vote
from tests.support.builders import export_of, feedback_event, feedback_source, policy_version

pytestmark = pytest.mark.django_db

# URL name -> (path, who asks). Paths take the ids the `site` fixture makes.
PAGES = {
    "home": ("/", "annotator"),
    "label": ("/sprints/{sprint}/label", "annotator"),
    "label-panel": ("/sprints/{sprint}/label/panel", "annotator"),
    "revise": ("/judgments/{judgment}/revise", "annotator"),
    "invitation-accept": ("/invitations/not-a-real-token", None),
    "sprint-dashboard": ("/reviews/sprints/{sprint}/dashboard", "lead"),
    "dispute-queue": ("/reviews/sprints/{sprint}/disputes", "reviewer"),
    "sprint-leaderboard": ("/reviews/sprints/{sprint}/leaderboard", "lead"),
    "dispute-detail": ("/reviews/disputes/{dispute}", "reviewer"),
    "training-models": ("/training/models", "lead"),
    "training-policies": ("/training/policies", "lead"),
    "training-policy": ("/training/policies/{policy}", "lead"),
    "feedback-sources": ("/feedback/", "lead"),
    "feedback-dashboard": ("/feedback/support-bot/", "lead"),
    "login": ("/accounts/login/", None),
    "password_change": ("/accounts/password_change/", "annotator"),
    "password_change_done": ("/accounts/password_change/done/", "annotator"),
    "password_reset": ("/accounts/password_reset/", None),
    "password_reset_done": ("/accounts/password_reset/done/", None),
    "password_reset_confirm": ("/accounts/reset/MQ/not-a-token/", None),
    "password_reset_complete": ("/accounts/reset/done/", None),
}
# Pages outside the page URL modules: the admin, the API's HTML faces, an error page.
OTHER_PAGES = {
    "admin login": ("/admin/login/", None),
    "admin index": ("/admin/", "root"),
    "admin changelist": ("/admin/annotation/sprint/", "root"),
    "admin change form": ("/admin/annotation/sprint/{sprint}/change/", "root"),
    "admin user changelist": ("/admin/auth/user/", "root"),
    "admin lockouts (a lead)": ("/admin/axes/accessattempt/", "lead"),
    "api docs": ("/api/docs/", "annotator"),
    "browsable api": ("/api/v1/judgments", "annotator"),
    "not found page": ("/no-such-page", "annotator"),
}
NOT_PAGES = {"logout"}  # POST only; it answers a redirect


@pytest.fixture
def site(sprint, lead, annotator, reviewer, make_user) -> dict:
    add_items(sprint, 3)
    item = sprint.items.order_by("pk").first()
    assignment = lease_item(item, annotator)
    judgment = submit_judgment(
        annotator, assignment.pk, good_answers(), seconds=5, idempotency_key="csp"
    ).judgment
    disputed = make_items(sprint, 1, prefix="d")[0]
    for user, ranking in zip(
        people(sprint, make_user, ["ada", "bo", "cy"]),
        (["a", "b"], ["a", "b"], ["b", "a"]),
        strict=True,
    ):
        vote(disputed, user, ranking, strength=2, helpfulness={"a": 5, "b": 1})
    review_sprint(sprint)
    feedback_event(feedback_source("support-bot", leads=[lead]), "ev-1")
    policy = policy_version(export_of(sprint, lead), lead)
    return {
        "ids": {
            "policy": policy.pk,
            "sprint": sprint.pk,
            "judgment": judgment.pk,
            "dispute": Dispute.objects.get(item=disputed).pk,
        },
        "users": {
            "annotator": annotator,
            "reviewer": reviewer,
            "lead": lead,
            "root": make_user("root", is_staff=True, is_superuser=True),
        },
    }


def fetch(site: dict, path: str, who: str | None):
    client = Client()
    if who is not None:
        client.force_login(site["users"][who])
    return client.get(path.format(**site["ids"]), HTTP_ACCEPT="text/html")


def assert_one_policy(response) -> None:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert 'http-equiv="Content-Security-Policy"' not in response.content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_every_page_has_the_policy(site, name):
    path, who = PAGES[name]
    response = fetch(site, path, who)

    assert response.status_code < 500
    assert_one_policy(response)


@pytest.mark.parametrize("name", OTHER_PAGES)
def test_admin_api_docs_and_error_pages_have_the_policy(site, name):
    path, who = OTHER_PAGES[name]
    response = fetch(site, path, who)

    assert response.status_code in (200, 404), response.status_code
    assert_one_policy(response)


def test_the_pages_are_the_ones_their_role_sees(site):
    # Not a row of refusals: each page above answers 200 to its role (the login-required
    # pages would otherwise only show that the login redirect has the header).
    for name, (path, who) in PAGES.items():
        if who is not None:
            assert fetch(site, path, who).status_code == 200, name


def _page_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and entry.name:
                names.add((prefix + str(entry.pattern), entry.name))

    walk(get_resolver().url_patterns, "")
    return {
        name
        for route, name in names
        if not route.startswith(("admin/", "api/", "static/")) and name not in NOT_PAGES
    }


def test_every_page_url_is_covered():
    assert _page_names() <= set(PAGES), _page_names() - set(PAGES)
