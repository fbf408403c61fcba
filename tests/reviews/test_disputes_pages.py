"""The reviewer's dispute pages through the Django test client: who may see them, what they
show, and the adjudication form's outcomes."""

import re

import pytest
from django.test import Client

from annotation.models import AuditEvent, Item, Response, SprintRole
from reviews.models import ConsensusLabel, Dispute
from reviews.services.disputes import review_sprint
from tests.reviews.dispute_fixtures import make_items, people, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(sprint, make_user):
    first, second = make_items(sprint, 2)
    Item.objects.filter(pk=first.pk).update(prompt="**Bold** <script>alert('x')</script>")
    Response.objects.filter(item=first, key="a").update(text="<img src=x onerror=alert(1)> ok")
    users = people(sprint, make_user, ["ada", "bo", "cy"])
    for item in (first, second):
        for user, ranking in zip(users, (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
            vote(item, user, ranking, strength=2, helpfulness={"a": 5, "b": 1})
    review_sprint(sprint)
    return [Dispute.objects.get(item=first), Dispute.objects.get(item=second)], users


def browser(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_the_queue_lists_open_disputes(sprint, queue, reviewer):
    response = browser(reviewer).get(f"/reviews/sprints/{sprint.pk}/disputes")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    body = response.content.decode()
    assert "2 open disputes" in body and "s-0" in body and "s-1" in body
    assert f"/reviews/disputes/{queue[0][0].pk}" in body


@pytest.mark.parametrize("junk", ["<script>", "split' OR 1=1", "reasons", "%00"])
def test_an_unknown_reason_filter_lists_every_open_dispute(sprint, queue, reviewer, junk):
    response = browser(reviewer).get(f"/reviews/sprints/{sprint.pk}/disputes", {"reason": junk})
    assert response.status_code == 200
    body = response.content.decode()
    assert "2 open disputes." in body and "<script>" not in body.split("<main", 1)[1]


def test_the_reason_filter_keeps_only_that_reason(sprint, queue, reviewer):
    client = browser(reviewer)
    low = client.get(f"/reviews/sprints/{sprint.pk}/disputes", {"reason": "low_agreement"})
    assert "2 open disputes for" in low.content.decode()
    flagged = client.get(f"/reviews/sprints/{sprint.pk}/disputes", {"reason": "flagged"})
    assert "Nothing to settle for" in flagged.content.decode()


def test_a_dispute_page_shows_every_judgment_unblinded_and_safe(sprint, queue, reviewer):
    disputes, users = queue
    response = browser(reviewer).get(f"/reviews/disputes/{disputes[0].pk}")
    assert response.status_code == 200
    body = response.content.decode()
    for user in users:
        assert user.username in body
    assert "helpfulness" in body
    # Each ranking in stored ids, each with the name its annotator saw it under.
    seen = r"b \(their Response [12]\) &gt; a \(their Response [12]\) \(strength 2\)"
    assert re.search(seen, body)
    assert "<strong>Bold</strong>" in body
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt; ok" in body and "<img" not in body
    scripts = re.findall(r"<script[^>]*>", body)
    assert scripts == ['<script src="/static/reviews/dispute-keys.js" defer>'], "no inline script"
    assert 'name="rank_1"' in body and 'name="rationale"' in body


def test_resolving_goes_on_to_the_next_dispute_then_the_queue(sprint, queue, reviewer):
    disputes, _ = queue
    client = browser(reviewer)
    form = {"action": "resolve", "rank_1": "b", "rank_2": "a", "rationale": "b is grounded"}
    response = client.post(f"/reviews/disputes/{disputes[0].pk}", form)
    assert response.status_code == 302
    assert response["Location"] == f"/reviews/disputes/{disputes[1].pk}"
    label = ConsensusLabel.objects.get(item_id=disputes[0].item_id)
    assert label.method == "adjudicated" and label.ranking == ["b", "a"]
    assert AuditEvent.objects.filter(action="dispute.resolved").count() == 1
    response = client.post(f"/reviews/disputes/{disputes[1].pk}", {**form, "rank_1": "a"})
    assert response.status_code == 400, "rank_1 and rank_2 both a"
    response = client.post(
        f"/reviews/disputes/{disputes[1].pk}", {"action": "void", "reason": "duplicate item"}
    )
    assert response["Location"] == f"/reviews/sprints/{sprint.pk}/disputes"
    assert not Dispute.objects.filter(status="open").exists()
    settled = client.get(f"/reviews/disputes/{disputes[0].pk}").content.decode()
    assert "b is grounded" in settled and 'id="resolve-form"' not in settled


@pytest.mark.parametrize(
    "form",
    [
        {"action": "resolve", "rank_1": "b", "rank_2": "a", "rationale": "  "},
        {"action": "resolve", "rank_1": "b", "rank_2": "b", "rationale": "why"},
        {"action": "resolve", "rank_1": "b", "rank_2": "z", "rationale": "why"},
        {"action": "resolve", "rank_1": "b", "rationale": "why"},
        {"action": "void", "reason": ""},
        {"action": "delete"},
    ],
)
def test_a_rejected_form_is_shown_again_and_stores_nothing(sprint, queue, reviewer, form):
    dispute = queue[0][0]
    response = browser(reviewer).post(f"/reviews/disputes/{dispute.pk}", form)
    assert response.status_code == 400
    assert 'id="errors"' in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == "open"
    assert ConsensusLabel.objects.get(item_id=dispute.item_id).method != "adjudicated"
    assert not AuditEvent.objects.filter(action__startswith="dispute.").exists()


def test_who_may_see_the_pages(sprint, other_sprint, queue, annotator, lead, make_user):
    dispute = queue[0][0]
    (stranger,) = people(other_sprint, make_user, ["rev"], role=SprintRole.REVIEWER)
    pages = [f"/reviews/sprints/{sprint.pk}/disputes", f"/reviews/disputes/{dispute.pk}"]
    for path in pages:
        assert browser(lead).get(path).status_code == 200
        assert browser(annotator).get(path).status_code == 403
        assert browser(stranger).get(path).status_code == 404
        assert browser(None).get(path).status_code == 302
    form = {"action": "resolve", "rank_1": "a", "rank_2": "b", "rationale": "mine"}
    assert browser(annotator).post(pages[1], form).status_code == 403
    assert browser(stranger).post(pages[1], form).status_code == 404
    assert Dispute.objects.get(pk=dispute.pk).status == "open"
