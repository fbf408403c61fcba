"""The dispute queue and the consensus labels over the REST API, as reviewers, leads,
annotators, other sprints' members and anonymous callers reach them."""

import pytest

from annotation.models import AuditEvent, ItemFlag, SprintMember, SprintRole
from reviews.models import ConsensusLabel, Dispute
from reviews.services.disputes import review_item, review_sprint
from tests.reviews.dispute_fixtures import make_gold, make_items, people, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(sprint, make_user):
    """Three items of sprint A: ``split`` (judgments 2:1, low agreement), ``gold`` (a failed
    gold item) and ``calm`` (unanimous, no dispute)."""
    split, gold, calm = make_items(sprint, 3)
    ada, bo, cy = people(sprint, make_user, ["ada", "bo", "cy"])
    make_gold(gold, ["a", "b"])
    for user, ranking in zip((ada, bo, cy), (["a", "b"], ["a", "b"], ["b", "a"]), strict=True):
        vote(split, user, ranking, strength=2, helpfulness={"a": 4, "b": 3})
        vote(gold, user, ["a", "b"] if user != cy else ["b", "a"])
        vote(calm, user, ["b", "a"])
    review_sprint(sprint)
    return {
        "split": Dispute.objects.get(item=split),
        "gold": Dispute.objects.get(item=gold),
        "users": (ada, bo, cy),
        "calm": calm,
    }


@pytest.fixture
def outsiders(other_sprint, make_user):
    """A reviewer and an annotator of sprint B, strangers to sprint A."""
    (rev,) = people(other_sprint, make_user, ["rev"], role=SprintRole.REVIEWER)
    (ann,) = people(other_sprint, make_user, ["ann"])
    return rev, ann


def test_a_reviewer_lists_open_disputes_unblinded(sprint, disputed, reviewer, api_client_for):
    response = api_client_for(reviewer).get(f"/api/v1/disputes?sprint={sprint.pk}&status=open")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    by_item = {row["item"]["id"]: row for row in body["results"]}
    split = by_item[disputed["split"].item_id]
    assert split["status"] == "open" and split["reasons"] == ["low_agreement"]
    assert [r["id"] for r in split["item"]["responses"]] == ["a", "b"]
    ada, bo, cy = disputed["users"]
    judgments = {j["annotator"]["username"]: j for j in split["judgments"]}
    assert set(judgments) == {ada.username, bo.username, cy.username}
    assert judgments[cy.username]["answers"]["preference"]["ranking"] == ["b", "a"]
    assert judgments[cy.username]["seconds"] == 12.0
    record = judgments[cy.username]["track_record"]
    # cy failed the one gold item and sided against two of the three consensus labels.
    assert record["judgments"] == 3 and record["gold_items"] == 1
    assert record["gold_accuracy"] == 0.0
    assert record["consensus_items"] == 3
    assert record["consensus_agreement"] == pytest.approx(1 / 3, abs=1e-4)
    assert judgments[ada.username]["track_record"]["gold_accuracy"] == 1.0
    gold = by_item[disputed["gold"].item_id]
    assert gold["reasons"] == ["low_agreement", "gold_failed"]
    assert gold["item"]["gold"] == ["a", "b"] and gold["consensus"]["ranking"] == ["a", "b"]


def test_status_filter_pagination_and_detail(sprint, disputed, lead, api_client_for):
    client = api_client_for(lead)
    assert client.get(f"/api/v1/disputes?sprint={sprint.pk}&status=resolved").json()["count"] == 0
    listed = client.get(f"/api/v1/disputes?sprint={sprint.pk}").json()
    assert listed["count"] == 2 and set(listed) >= {"next", "previous", "results"}
    detail = client.get(f"/api/v1/disputes/{disputed['split'].pk}")
    assert detail.status_code == 200 and detail.json()["id"] == disputed["split"].pk
    for bad in ("", "?sprint=x", f"?sprint={sprint.pk}&status=closed"):
        response = client.get(f"/api/v1/disputes{bad}")
        assert response.status_code == 400, bad
    assert client.get("/api/v1/disputes?sprint=999999").status_code == 404
    assert client.get("/api/v1/disputes/999999").status_code == 404


def test_resolve_writes_the_adjudicated_label(sprint, disputed, reviewer, api_client_for):
    dispute = disputed["split"]
    response = api_client_for(reviewer).post(
        f"/api/v1/disputes/{dispute.pk}/resolve",
        {"ranking": ["b", "a"], "rationale": "Response a quotes a retired price list."},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["method"] == "adjudicated" and body["ranking"] == ["b", "a"]
    assert body["confidence"] == 1.0 and body["item"] == dispute.item_id
    dispute.refresh_from_db()
    assert dispute.status == "resolved" and dispute.resolved_by == reviewer
    assert AuditEvent.objects.filter(action="dispute.resolved", actor=reviewer).count() == 1
    consensus = api_client_for(reviewer).get(f"/api/v1/sprints/{sprint.pk}/consensus").json()
    labels = {row["item"]: row for row in consensus["results"]}
    assert labels[dispute.item_id]["method"] == "adjudicated"
    again = api_client_for(reviewer).post(
        f"/api/v1/disputes/{dispute.pk}/resolve",
        {"ranking": ["a", "b"], "rationale": "second thoughts"},
        format="json",
    )
    assert again.status_code == 409
    assert ConsensusLabel.objects.get(item_id=dispute.item_id).ranking == ["b", "a"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ranking": ["b"], "rationale": "why"}, "ranking"),
        ({"ranking": ["b", "a", "c"], "rationale": "why"}, "ranking"),
        ({"ranking": ["b", "b"], "rationale": "why"}, "ranking"),
        ({"ranking": "ba", "rationale": "why"}, "ranking"),
        ({"rationale": "why"}, "ranking"),
        ({"ranking": ["b", "a"]}, "rationale"),
        ({"ranking": ["b", "a"], "rationale": ""}, "rationale"),
        ({"ranking": ["b", "a"], "rationale": "why", "strength": 9}, "strength"),
        ({"ranking": ["b", "a"], "rationale": "why", "answers": {"nope": 1}}, "answers.nope"),
    ],
)
def test_bad_resolve_is_400_and_stores_nothing(disputed, reviewer, api_client_for, body, field):
    dispute = disputed["split"]
    before = ConsensusLabel.objects.get(item_id=dispute.item_id)
    response = api_client_for(reviewer).post(
        f"/api/v1/disputes/{dispute.pk}/resolve", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    dispute.refresh_from_db()
    assert dispute.status == "open" and dispute.final_ranking is None
    after = ConsensusLabel.objects.get(item_id=dispute.item_id)
    assert (after.method, after.ranking, after.updated_at) == (
        before.method,
        before.ranking,
        before.updated_at,
    )
    assert not AuditEvent.objects.filter(action__startswith="dispute.").exists()


def test_a_non_object_body_is_400(disputed, reviewer, api_client_for):
    response = api_client_for(reviewer).post(
        f"/api/v1/disputes/{disputed['split'].pk}/resolve", ["b", "a"], format="json"
    )
    assert response.status_code == 400


def test_void(disputed, lead, api_client_for):
    dispute = disputed["gold"]
    client = api_client_for(lead)
    empty = client.post(f"/api/v1/disputes/{dispute.pk}/void", {}, format="json")
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "reason"
    response = client.post(
        f"/api/v1/disputes/{dispute.pk}/void", {"reason": "Gold answer was wrong"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "void"
    assert AuditEvent.objects.filter(action="dispute.voided").count() == 1


def paths(sprint, dispute) -> list[tuple[str, str]]:
    return [
        ("get", f"/api/v1/disputes?sprint={sprint.pk}&status=open"),
        ("get", f"/api/v1/disputes/{dispute.pk}"),
        ("post", f"/api/v1/disputes/{dispute.pk}/resolve"),
        ("post", f"/api/v1/disputes/{dispute.pk}/void"),
        ("get", f"/api/v1/sprints/{sprint.pk}/consensus"),
    ]


def call(client, method: str, path: str):
    if method == "post":
        return client.post(path, {"ranking": ["a", "b"], "rationale": "x", "reason": "x"}, "json")
    return client.get(path)


def test_annotators_get_403_and_nothing_of_the_dispute(sprint, disputed, annotator, api_client_for):
    client = api_client_for(annotator)
    for method, path in paths(sprint, disputed["split"]):
        response = call(client, method, path)
        assert response.status_code == 403, path
        assert "ranking" not in response.content.decode()
    assert Dispute.objects.filter(status="open").count() == 2


def test_other_sprints_members_get_404(sprint, disputed, outsiders, api_client_for):
    for user in outsiders:
        client = api_client_for(user)
        for method, path in paths(sprint, disputed["split"]):
            assert call(client, method, path).status_code == 404, (user, path)
    assert Dispute.objects.filter(status="open").count() == 2


def test_anonymous_gets_401(sprint, disputed, api_client_for):
    client = api_client_for(None)
    for method, path in paths(sprint, disputed["split"]):
        assert call(client, method, path).status_code == 401, path


def test_consensus_api(sprint, disputed, reviewer, api_client_for):
    client = api_client_for(reviewer)
    body = client.get(f"/api/v1/sprints/{sprint.pk}/consensus").json()
    assert body["count"] == 3
    row = {r["item"]: r for r in body["results"]}[disputed["calm"].pk]
    assert row["ranking"] == ["b", "a"] and row["method"] == "unanimous"
    assert 0 <= row["confidence"] <= 1 and len(row["judgments"]) == 3
    only = client.get(f"/api/v1/sprints/{sprint.pk}/consensus?method=unanimous").json()
    assert {r["method"] for r in only["results"]} == {"unanimous"}
    assert client.get(f"/api/v1/sprints/{sprint.pk}/consensus?method=x").status_code == 400


def test_a_flag_through_the_api_is_a_dispute_reason(sprint, disputed, reviewer, api_client_for):
    ada = disputed["users"][0]
    ItemFlag.objects.create(
        sprint=sprint, item=disputed["calm"], annotator=ada, reason="Prompt is cut off"
    )
    review_item(disputed["calm"].pk)
    rows = api_client_for(reviewer).get(f"/api/v1/disputes?sprint={sprint.pk}").json()["results"]
    calm = next(r for r in rows if r["item"]["id"] == disputed["calm"].pk)
    assert calm["reasons"] == ["flagged"]
    assert calm["flags"][0]["reason"] == "Prompt is cut off"
    assert calm["flags"][0]["annotator"]["username"] == ada.username


@pytest.mark.parametrize("action", ["resolve", "void"])
def test_a_removed_reviewers_token_settles_nothing(
    sprint, other_sprint, disputed, reviewer, api_client_for, action
):
    # Still a member of sprint B, so removal from A leaves the token alive (the last
    # membership's removal revokes it): the doors themselves must refuse.
    SprintMember.objects.create(sprint=other_sprint, user=reviewer, role=SprintRole.REVIEWER)
    client = api_client_for(reviewer)
    dispute = disputed["split"]
    assert client.get(f"/api/v1/disputes/{dispute.pk}").status_code == 200
    SprintMember.objects.filter(sprint=sprint, user=reviewer).delete()
    response = call(client, "post", f"/api/v1/disputes/{dispute.pk}/{action}")
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}
    dispute.refresh_from_db()
    assert dispute.status == "open"
    assert not ConsensusLabel.objects.filter(method="adjudicated").exists()
    assert not AuditEvent.objects.filter(action__startswith="dispute.").exists()


@pytest.mark.parametrize("action", ["resolve", "void"])
def test_a_reviewer_demoted_to_annotator_gets_403(
    sprint, disputed, reviewer, api_client_for, action
):
    SprintMember.objects.filter(sprint=sprint, user=reviewer).update(role=SprintRole.ANNOTATOR)
    dispute = disputed["split"]
    response = call(api_client_for(reviewer), "post", f"/api/v1/disputes/{dispute.pk}/{action}")
    assert response.status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == "open"
    assert not AuditEvent.objects.filter(action__startswith="dispute.").exists()
