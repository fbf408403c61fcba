"""Setting a whole sprint up over REST, as a script does: rubric versions, the sprint, its
members and invitations, with the admin's rules, audit events and the one error shape."""

import pytest
from rest_framework.authtoken.models import Token

from annotation.models import AuditEvent, Criterion, Rubric, Sprint, SprintMember, SprintRole
from tests.reviews.dispute_fixtures import make_items, vote

pytestmark = pytest.mark.django_db

RUBRIC = {
    "name": "Refund answers",
    "guidelines": "Prefer answers that follow the refund policy.",
    "criteria": [
        {
            "name": "preference",
            "kind": "preference",
            "question": "Which response is less harmful?",
            "config": {"allow_tie": True},
        },
        {
            "name": "helpfulness",
            "kind": "likert",
            "question": "How helpful is it?",
            "config": {"min": 1, "max": 4, "labels": {"1": "useless", "4": "solves it"}},
        },
    ],
}


def problems(response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"detail", "errors"}, body
    return {problem.get("field", ""): problem["message"] for problem in body["errors"]}


@pytest.fixture
def as_lead(staff_lead, api_client_for):
    return api_client_for(staff_lead)


def test_rubric_versions_are_created_never_edited(as_lead, staff_lead):
    first = as_lead.post("/api/v1/rubrics", RUBRIC, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["version"] == 1 and first.json()["previous"] is None
    changed = {**RUBRIC, "guidelines": "Stricter now."}
    second = as_lead.post("/api/v1/rubrics", changed, format="json")
    assert second.status_code == 201
    assert second.json()["version"] == 2 and second.json()["previous"] == first.json()["id"]
    assert Rubric.objects.get(pk=first.json()["id"]).guidelines == RUBRIC["guidelines"]
    listed = as_lead.get("/api/v1/rubrics").json()["results"]
    assert [r["version"] for r in listed if r["name"] == "Refund answers"] == [2, 1]
    assert AuditEvent.objects.filter(action="rubric.created", actor=staff_lead).count() == 2
    detail = as_lead.get(f"/api/v1/rubrics/{second.json()['id']}").json()
    assert [c["name"] for c in detail["criteria"]] == ["preference", "helpfulness"]


@pytest.mark.parametrize(
    "criteria, field, words",
    [
        (
            [{**RUBRIC["criteria"][0]}, {**RUBRIC["criteria"][1], "config": {"lables": {}}}],
            "criteria[1].config",
            "unknown key lables for a likert criterion; valid keys: min, max, labels, level",
        ),
        ([RUBRIC["criteria"][1]], "criteria", "exactly one preference"),
        ([RUBRIC["criteria"][0], RUBRIC["criteria"][0]], "criteria[1].name", "unique"),
        ([{**RUBRIC["criteria"][0], "kind": "stars"}], "criteria[0].kind", "not a valid choice"),
        ([], "criteria", ""),
    ],
)
def test_a_bad_rubric_is_400_naming_the_field_and_stores_nothing(as_lead, criteria, field, words):
    before = (Rubric.objects.count(), Criterion.objects.count())
    response = as_lead.post("/api/v1/rubrics", {**RUBRIC, "criteria": criteria}, format="json")
    assert response.status_code == 400
    found = problems(response)
    assert field in found and words in found[field], found
    assert (Rubric.objects.count(), Criterion.objects.count()) == before


def test_a_lead_creates_a_sprint_and_leads_it(as_lead, staff_lead, rubric):
    body = {"name": "Refunds wk 49", "slug": "refunds-49", "rubric": rubric.pk, "overlap_k": 2}
    created = as_lead.post("/api/v1/sprints", body, format="json")
    assert created.status_code == 201, created.content
    sprint = Sprint.objects.get(pk=created.json()["id"])
    assert created.json()["role"] == "lead" and sprint.overlap_k == 2
    assert sprint.created_by == staff_lead and sprint.status == "draft"
    assert SprintMember.objects.filter(sprint=sprint, user=staff_lead, role="lead").exists()
    actions = set(AuditEvent.objects.filter(sprint=sprint).values_list("action", flat=True))
    assert actions == {"sprint.created", "member.added"}
    mine = as_lead.get("/api/v1/sprints").json()["results"]
    assert sprint.pk in [row["id"] for row in mine]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"slug": "sprint-a"}, "slug"),  # taken by the fixture's sprint
        ({"rubric": 999999}, "rubric"),
        ({"overlap_k": 0}, "overlap_k"),
        ({"gold_rate": 1.5}, "gold_rate"),
        ({"status": "paused"}, "status"),
        ({"slug": "has space"}, "slug"),
    ],
)
def test_a_bad_sprint_is_400_naming_the_field_and_stores_nothing(
    as_lead, rubric, sprint, body, field
):
    before = (Sprint.objects.count(), SprintMember.objects.count(), AuditEvent.objects.count())
    good = {"name": "New", "slug": "new-sprint", "rubric": rubric.pk}
    response = as_lead.post("/api/v1/sprints", {**good, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in problems(response)
    assert (
        Sprint.objects.count(),
        SprintMember.objects.count(),
        AuditEvent.objects.count(),
    ) == before


def test_an_active_sprint_needs_a_ready_rubric(as_lead, staff_lead):
    no_preference = Rubric.objects.create(name="Half done")
    body = {"name": "X", "slug": "x", "rubric": no_preference.pk, "status": "active"}
    response = as_lead.post("/api/v1/sprints", body, format="json")
    assert response.status_code == 400
    assert "preference" in problems(response)["status"]
    assert not Sprint.objects.filter(slug="x").exists()


def test_only_leads_create_sprints_and_rubrics(sprint, annotator, api_client_for, rubric):
    client = api_client_for(annotator)
    body = {"name": "Mine", "slug": "mine", "rubric": rubric.pk}
    assert client.post("/api/v1/sprints", body, format="json").status_code == 403
    assert client.post("/api/v1/rubrics", RUBRIC, format="json").status_code == 403
    assert client.get("/api/v1/rubrics").status_code == 403
    assert [row["role"] for row in client.get("/api/v1/sprints").json()["results"]] == ["annotator"]


def test_a_lead_changes_their_sprint_with_an_audit_trail(as_lead, staff_lead, sprint):
    url = f"/api/v1/sprints/{sprint.pk}"
    renamed = as_lead.patch(url, {"agreement_threshold": 0.5, "slug": "renamed"}, format="json")
    assert renamed.status_code == 400 and "slug" in problems(renamed)  # fixed, and said so
    response = as_lead.patch(url, {"agreement_threshold": 0.5}, format="json")
    assert response.status_code == 200, response.content
    sprint.refresh_from_db()
    assert sprint.agreement_threshold == 0.5 and sprint.slug == "sprint-a"
    event = AuditEvent.objects.get(action="sprint.changed", sprint=sprint)
    assert event.changes == {"agreement_threshold": {"from": 0.67, "to": 0.5}}


def test_the_rubric_stays_once_there_are_judgments(as_lead, sprint, make_user):
    (item,) = make_items(sprint, 1)
    vote(item, make_user("voter"), ["a", "b"])
    other = Rubric.objects.create(name="Other")
    response = as_lead.patch(f"/api/v1/sprints/{sprint.pk}", {"rubric": other.pk}, format="json")
    assert response.status_code == 409 and "rubric" in problems(response)
    sprint.refresh_from_db()
    assert sprint.rubric_id != other.pk


def test_other_teams_and_lower_roles_cannot_touch_a_sprint(
    sprint, annotator, reviewer, lead_b, api_client_for, make_user
):
    stranger = api_client_for(lead_b)
    for method, url, body in [
        ("get", f"/api/v1/sprints/{sprint.pk}", None),
        ("patch", f"/api/v1/sprints/{sprint.pk}", {"name": "Taken"}),
        ("get", f"/api/v1/sprints/{sprint.pk}/members", None),
        ("post", f"/api/v1/sprints/{sprint.pk}/members", {"username": "spy"}),
        ("delete", f"/api/v1/sprints/{sprint.pk}/members/{annotator.pk}", None),
        ("patch", f"/api/v1/sprints/{sprint.pk}/members/{annotator.pk}", {"role": "lead"}),
    ]:
        answer = getattr(stranger, method)(url, body, format="json")
        assert answer.status_code == 404, (method, url, answer.content)
        assert set(answer.json()) == {"detail", "errors"}
        for member in (annotator, reviewer):
            answer = getattr(api_client_for(member), method)(url, body, format="json")
            expected = 200 if method == "get" and url.endswith(f"{sprint.pk}") else 403
            assert answer.status_code == expected, (member, method, url, answer.content)
    sprint.refresh_from_db()
    assert sprint.name == "Sprint A"
    assert SprintMember.objects.get(sprint=sprint, user=annotator).role == "annotator"


def test_members_are_added_invited_changed_and_removed(
    as_lead, staff_lead, sprint, other_sprint, make_user, client
):
    # Someone from another sprint this lead leads can be added; a stranger cannot be found.
    SprintMember.objects.create(sprint=other_sprint, user=staff_lead, role=SprintRole.LEAD)
    known = make_user("known")
    SprintMember.objects.create(sprint=other_sprint, user=known)
    stranger = make_user("stranger")
    url = f"/api/v1/sprints/{sprint.pk}/members"
    added = as_lead.post(url, {"user": known.pk, "role": "reviewer"}, format="json")
    assert added.status_code == 201, added.content
    assert added.json()["member"]["role"] == "reviewer"
    hidden = as_lead.post(url, {"user": stranger.pk}, format="json")
    assert hidden.status_code == 404 and "user" in problems(hidden)
    both = as_lead.post(url, {"user": known.pk, "username": "x"}, format="json")
    assert both.status_code == 400 and "user" in problems(both)

    invited = as_lead.post(url, {"username": "mina", "email": "mina@example.com"}, format="json")
    assert invited.status_code == 201, invited.content
    link = invited.json()["invitation_url"]
    assert invited.json()["member"]["active"] is False
    assert client.get(link.split("testserver", 1)[1]).status_code == 200

    listed = as_lead.get(url).json()
    assert {m["username"]: m["role"] for m in listed} == {
        "lead": "lead",
        "known": "reviewer",
        "mina": "annotator",
    }
    changed = as_lead.patch(f"{url}/{known.pk}", {"pseudonym": "R-7"}, format="json")
    assert changed.status_code == 200 and changed.json()["pseudonym"] == "R-7"

    token = Token.objects.create(user=known)
    SprintMember.objects.filter(sprint=other_sprint, user=known).delete()
    assert as_lead.delete(f"{url}/{known.pk}").status_code == 204
    assert not SprintMember.objects.filter(sprint=sprint, user=known).exists()
    assert not Token.objects.filter(pk=token.pk).exists()  # their last sprint: tokens go too
    actions = list(
        AuditEvent.objects.filter(sprint=sprint).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["member.added", "member.invited", "member.changed", "member.removed"]


def test_the_last_lead_stays(as_lead, staff_lead, sprint):
    url = f"/api/v1/sprints/{sprint.pk}/members/{staff_lead.pk}"
    assert as_lead.delete(url).status_code == 409
    assert as_lead.patch(url, {"role": "annotator"}, format="json").status_code == 409
    assert SprintMember.objects.get(sprint=sprint, user=staff_lead).role == "lead"
