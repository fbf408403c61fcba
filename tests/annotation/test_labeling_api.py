"""Next item, submit, revise, skip and my judgments, through the REST API as clients call it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, Judgment
from tests.annotation.labeling_fixtures import add_items, good_answers, join

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(sprint, annotator, make_user, api_client_for):
    add_items(sprint, 3, gold=1)
    (other,) = join(sprint, make_user("ann2"))
    return api_client_for(annotator), api_client_for(other)


def next_item(client, sprint):
    return client.get(f"/api/v1/sprints/{sprint.pk}/next")


def submit(client, assignment, answers=None, key="k-1", seconds=12):
    return client.post(
        "/api/v1/judgments",
        {"assignment": assignment, "answers": answers or good_answers(), "seconds": seconds},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_next_item_has_the_contract_shape_and_nothing_to_unblind(sprint, setup):
    client, _ = setup
    response = next_item(client, sprint)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"assignment", "item", "rubric"}
    assert set(body["item"]) == {"id", "prompt", "context", "responses"}
    assert sorted(r["id"] for r in body["item"]["responses"]) == ["a", "b"]
    assert all(set(r) == {"id", "text"} for r in body["item"]["responses"])
    assert [c["name"] for c in body["rubric"]["criteria"]] == ["preference", "helpfulness"]
    text = response.content.decode()
    assert "secret-source" not in text and "model-0" not in text and "gold" not in text


def test_submit_then_retry_with_same_key_stores_once(sprint, setup):
    client, _ = setup
    assignment = next_item(client, sprint).json()["assignment"]
    first = submit(client, assignment)
    assert first.status_code == 201
    again = submit(client, assignment)
    assert again.status_code == 200 and again.json() == first.json()
    assert Judgment.objects.count() == 1
    assert Assignment.objects.get(pk=assignment).status == "submitted"


def test_same_key_with_another_body_is_a_conflict(sprint, setup):
    client, _ = setup
    assignment = next_item(client, sprint).json()["assignment"]
    submit(client, assignment)
    response = submit(client, assignment, answers=good_answers(("b", "a")))
    assert response.status_code == 409
    assert Judgment.objects.count() == 1


def test_a_retry_is_answered_with_the_stored_judgment_even_after_the_sprint_closed(sprint, setup):
    client, _ = setup
    assignment = next_item(client, sprint).json()["assignment"]
    first = submit(client, assignment)
    sprint.status = "closed"
    sprint.save()
    again = submit(client, assignment)
    assert again.status_code == 200 and again.json() == first.json()
    assert submit(client, assignment, key="k-new").status_code == 400, "a new submit is refused"
    assert Judgment.objects.count() == 1


def test_a_key_reused_for_another_assignment_is_a_conflict(sprint, setup):
    client, _ = setup
    first = next_item(client, sprint).json()["assignment"]
    submit(client, first, key="same")
    second = next_item(client, sprint).json()["assignment"]
    response = submit(client, second, key="same")
    assert response.status_code == 409
    assert Judgment.objects.count() == 1
    assert Assignment.objects.get(pk=second).status == "leased", "the refusal changed nothing"


def test_revision_supersedes_and_my_judgments_show_which_is_live(sprint, setup):
    client, _ = setup
    assignment = next_item(client, sprint).json()["assignment"]
    first = submit(client, assignment).json()["id"]
    second = submit(client, assignment, answers=good_answers(("b", "a")), key="k-2")
    assert second.status_code == 201
    revised = Judgment.objects.get(pk=second.json()["id"])
    assert revised.supersedes_id == first
    listed = client.get(f"/api/v1/judgments?sprint={sprint.pk}").json()["results"]
    assert [(j["id"], j["live"]) for j in listed] == [(revised.pk, True), (first, False)]
    live = client.get("/api/v1/judgments?live=true").json()["results"]
    assert [j["id"] for j in live] == [revised.pk]
    assert Judgment.objects.get(pk=first).answers["preference"]["ranking"] == ["a", "b"]


BAD_ANSWERS = {
    "unknown response": ({"preference": {"ranking": ["a", "z"]}}, "answers.preference.ranking"),
    "repeated response": ({"preference": {"ranking": ["a", "a"]}}, "answers.preference.ranking"),
    "partial ranking": ({"preference": {"ranking": ["a"]}}, "answers.preference.ranking"),
    "strength out of range": (
        {"preference": {"ranking": ["a", "b"], "strength": 9}},
        "answers.preference.strength",
    ),
    "likert out of range": (
        {"preference": {"ranking": ["a", "b"]}, "helpfulness": {"a": 6, "b": 1}},
        "answers.helpfulness.a",
    ),
    "missing required": ({"helpfulness": {"a": 1, "b": 1}}, "answers.preference"),
    "unknown criterion": (
        {**good_answers(), "vibes": 3},
        "answers.vibes",
    ),
    "not an object": ("better: a", "answers"),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_malformed_answers_are_a_400_naming_the_field(case, sprint, setup):
    client, _ = setup
    assignment = next_item(client, sprint).json()["assignment"]
    answers, field = BAD_ANSWERS[case]
    response = client.post(
        "/api/v1/judgments",
        {"assignment": assignment, "answers": answers},
        format="json",
        HTTP_IDEMPOTENCY_KEY="bad",
    )
    assert response.status_code == 400, response.content
    assert field in [e.get("field") for e in response.json()["errors"]]
    assert Judgment.objects.count() == 0


def test_missing_idempotency_key_is_a_400(sprint, setup):
    client, _ = setup
    assignment = next_item(client, sprint).json()["assignment"]
    response = client.post(
        "/api/v1/judgments", {"assignment": assignment, "answers": good_answers()}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_submit_for_an_expired_lease_is_refused(sprint, setup):
    client, _ = setup
    assignment = next_item(client, sprint).json()["assignment"]
    past = timezone.now() - timedelta(minutes=1)
    Assignment.objects.filter(pk=assignment).update(
        leased_at=past - timedelta(hours=1), lease_expires_at=past
    )
    response = submit(client, assignment)
    assert response.status_code == 400
    assert "expired" in response.json()["errors"][0]["message"]
    assert Judgment.objects.count() == 0


def test_skip_needs_a_reason_and_moves_on(sprint, setup):
    client, _ = setup
    first = next_item(client, sprint).json()
    assert (
        client.post(
            f"/api/v1/assignments/{first['assignment']}/skip", {}, format="json"
        ).status_code
        == 400
    )
    skipped = client.post(
        f"/api/v1/assignments/{first['assignment']}/skip",
        {"reason": "not my language"},
        format="json",
    )
    assert skipped.json()["status"] == "skipped"
    following = next_item(client, sprint).json()
    assert following["item"]["id"] != first["item"]["id"]


def test_empty_queue_is_204(sprint, setup):
    client, _ = setup
    while (response := next_item(client, sprint)).status_code == 200:
        assert (
            submit(
                client, response.json()["assignment"], key=str(response.json()["assignment"])
            ).status_code
            == 201
        )
    assert response.status_code == 204


# --- permissions -------------------------------------------------------------------------


def test_another_sprints_next_item_is_404(other_sprint, setup):
    client, _ = setup
    add_items(other_sprint, 2, prefix="o")
    assert next_item(client, other_sprint).status_code == 404


def test_someone_elses_assignment_and_judgment_are_404(sprint, setup):
    mine, theirs = setup
    their_assignment = next_item(theirs, sprint).json()["assignment"]
    their_judgment = submit(theirs, their_assignment, key="theirs").json()["id"]
    assert submit(mine, their_assignment, key="steal").status_code == 404
    assert (
        mine.post(
            f"/api/v1/assignments/{their_assignment}/skip", {"reason": "x"}, format="json"
        ).status_code
        == 404
    )
    assert mine.get(f"/api/v1/judgments/{their_judgment}").status_code == 404
    assert mine.get("/api/v1/judgments").json()["results"] == []
    assert Judgment.objects.count() == 1


def test_anonymous_gets_401_everywhere(sprint, api_client_for):
    anonymous = api_client_for(None)
    assert anonymous.get(f"/api/v1/sprints/{sprint.pk}/next").status_code == 401
    assert anonymous.post("/api/v1/judgments", {}, format="json").status_code == 401
    assert anonymous.get("/api/v1/judgments").status_code == 401


def test_gold_answers_never_reach_the_annotator(sprint, setup):
    client, _ = setup
    sprint.gold_rate = 1.0
    sprint.save()
    body = next_item(client, sprint).content.decode()
    assert '"ranking"' not in body


def test_a_member_of_another_sprint_gets_404_for_this_one(
    sprint, other_sprint, make_user, api_client_for
):
    add_items(other_sprint, 1, prefix="o")
    (outsider,) = join(other_sprint, make_user("outsider"))
    client = api_client_for(outsider)
    assert next_item(client, sprint).status_code == 404
    assert client.get("/api/v1/sprints/999999/next").status_code == 404
    assert not Assignment.objects.filter(sprint=sprint).exists()


def test_superuser_without_membership_is_told_to_join(sprint, make_user, api_client_for):
    root = make_user("root", is_superuser=True, is_staff=True)
    add_items(sprint, 1, prefix="s")
    response = next_item(api_client_for(root), sprint)
    assert response.status_code == 403
    assert "not a member" in response.json()["detail"]


def test_closed_sprint_is_a_409(sprint, setup):
    client, _ = setup
    sprint.status = "closed"
    sprint.save()
    assert next_item(client, sprint).status_code == 409
