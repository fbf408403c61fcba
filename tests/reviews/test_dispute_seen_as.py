"""A reviewer reads each judgment with the names its annotator saw: every annotator is shown
the responses in their own shuffled order as "Response 1, 2, ...", so a rationale's
"Response 1" must be mapped to the stored response it meant (issue 17: rationales pointed at
the wrong response)."""

import pytest
from django.urls import reverse

from annotation.admin.leads import ensure_leads_group
from annotation.models import Assignment
from annotation.services.serving import seen_as
from reviews.models import Dispute
from reviews.services.disputes import review_sprint
from tests.reviews.dispute_fixtures import make_items, people

pytestmark = pytest.mark.django_db

ITEMS = 12  # the chance that two annotators see every item in the same order is 2**-12


def label_first_shown_best(client, sprint) -> dict[int, list[str]]:
    """Label every item of the queue through the API, always preferring the response shown
    first, with a rationale that says so in the annotator's own words. Returns, per item,
    the response ids in the order this annotator was shown them."""
    shown = {}
    while True:
        served = client.get(f"/api/v1/sprints/{sprint.pk}/next")
        if served.status_code == 204:
            return shown
        body = served.json()
        order = [response["id"] for response in body["item"]["responses"]]
        shown[body["item"]["id"]] = order
        answers = {
            "preference": {"ranking": order, "strength": 2},
            "helpfulness": {order[0]: 5, order[1]: 2},
        }
        saved = client.post(
            "/api/v1/judgments",
            {"assignment": body["assignment"], "answers": answers, "seconds": 4},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"seen-{body['assignment']}",
        )
        assert saved.status_code == 201, saved.content


@pytest.fixture
def split_by_order(sprint, make_user, api_client_for):
    sprint.overlap_k = 2
    sprint.save(update_fields=["overlap_k"])
    make_items(sprint, ITEMS)
    ada, bo = people(sprint, make_user, ["ada", "bo"])
    shown = {user: label_first_shown_best(api_client_for(user), sprint) for user in (ada, bo)}
    review_sprint(sprint)
    return ada, bo, shown


def test_the_api_maps_every_judgment_to_the_order_its_annotator_saw(
    sprint, split_by_order, reviewer, api_client_for
):
    ada, bo, shown = split_by_order
    disputes = Dispute.objects.filter(sprint=sprint)
    assert disputes.exists(), "both annotators preferring their own first response must split"
    client = api_client_for(reviewer)
    for dispute in disputes:
        detail = client.get(f"/api/v1/disputes/{dispute.pk}").json()
        by_name = {j["annotator"]["username"]: j for j in detail["judgments"]}
        for user in (ada, bo):
            order = shown[user][dispute.item_id]
            judgment = by_name[user.username]
            assert judgment["seen_as"] == {key: n for n, key in enumerate(order, start=1)}
            # What they called "Response 1" is what they ranked first.
            first = next(key for key, n in judgment["seen_as"].items() if n == 1)
            assert judgment["answers"]["preference"]["ranking"][0] == first


def test_the_dispute_page_names_each_response_as_its_annotator_saw_it(
    sprint, split_by_order, reviewer, client
):
    ada, bo, shown = split_by_order
    dispute = Dispute.objects.filter(sprint=sprint).first()
    order = shown[ada][dispute.item_id]
    assert order != shown[bo][dispute.item_id]  # a split here means they saw different orders
    client.force_login(reviewer)
    page = client.get(reverse("dispute-detail", args=[dispute.pk])).content.decode()
    first, second = order
    # ada ranked what she saw first above what she saw second; the page says so in both names.
    assert f"{first} (their Response 1) &gt; {second} (their Response 2)" in page
    assert f"saw Response 1 = {first}, Response 2 = {second}" in page
    assert f"{first} (their Response 1): 5" in page


def test_the_admin_judgment_page_shows_the_annotators_names(sprint, split_by_order, lead, client):
    ada, _, shown = split_by_order
    lead.groups.add(ensure_leads_group())
    assignment = Assignment.objects.filter(annotator=ada).select_related("item").first()
    judgment = assignment.judgments.get()
    order = shown[ada][assignment.item_id]
    client.force_login(lead)
    page = client.get(reverse("admin:annotation_judgment_change", args=[judgment.pk]))
    assert page.status_code == 200
    assert f"Response 1 = {order[0]}, Response 2 = {order[1]}" in page.content.decode()


def test_seen_as_numbers_every_response_once_in_every_order():
    for assignment_id in range(1, 50):
        mapping = seen_as(assignment_id, ["a", "b", "c"])
        assert sorted(mapping.values()) == [1, 2, 3]
    orders = {tuple(sorted("abc", key=seen_as(n, "abc").get)) for n in range(1, 50)}
    assert len(orders) == 6  # every order occurs: the position tells nothing
