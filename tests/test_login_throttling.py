"""Login throttling on every door: the login page, the admin login and the API token.

As found: 70 wrong passwords in a row were all answered on each door, and the right password
then worked at once. Now the real limit (CONCORD_LOGIN_FAILURE_LIMIT, 10 unless set) locks the
username out from that address, the right password included, until a lead of the person's
sprint or an administrator clears it, or the cool-off passes.
"""

from collections.abc import Callable

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from annotation.models import AuditEvent, SprintMember, SprintRole
from annotation.services.lockouts import LockoutClearRefused, clear_lockout

pytestmark = pytest.mark.django_db

LIMIT = settings.CONCORD_LOGIN_FAILURE_LIMIT
COOLOFF_SECONDS = str(settings.CONCORD_LOGIN_COOLOFF_MINUTES * 60)


def login_page(username: str, password: str):
    return Client().post("/accounts/login/", {"username": username, "password": password})


def admin_login(username: str, password: str):
    return Client().post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )


def api_token(username: str, password: str):
    return APIClient().post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json"
    )


DOORS: dict[str, Callable] = {
    "login page": login_page,
    "admin login": admin_login,
    "api token": api_token,
}


def refused_for_bad_password(door: str, response) -> bool:
    if door == "api token":
        return response.status_code == 400
    return response.status_code == 200 and response.context["form"].errors


def logged_in(door: str, response) -> bool:
    if door == "api token":
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def assert_locked_out(door: str, response) -> None:
    assert response.status_code == 429, (door, response.status_code)
    assert response["Retry-After"] == COOLOFF_SECONDS
    if door == "api token":
        body = response.json()
        assert set(body) == {"detail", "errors"}
        assert "Too many failed logins" in body["detail"]
        assert "token" not in body
    else:
        assert response["Content-Type"].startswith("text/html")
        assert "Too many failed logins" in response.content.decode()
        assert "_auth_user_id" not in response.client.session
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def lock_out(door: str, username: str) -> None:
    """LIMIT + 1 wrong passwords: the first LIMIT - 1 are ordinary refusals, the rest lock-outs."""
    for attempt in range(1, LIMIT + 2):
        response = DOORS[door](username, "wrong-password")
        if attempt < LIMIT:
            assert refused_for_bad_password(door, response), (door, attempt)
        else:
            assert_locked_out(door, response)


def test_the_suite_runs_with_the_real_limit():
    assert settings.AXES_FAILURE_LIMIT == LIMIT == 10
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


@pytest.mark.parametrize("door", DOORS)
def test_wrong_passwords_lock_the_door_and_the_right_one_is_then_refused(door, lead):
    lock_out(door, "lead")

    assert_locked_out(door, DOORS[door]("lead", "pw-lead"))


@pytest.mark.parametrize("door", DOORS)
def test_a_lockout_counts_on_every_door(door, lead):
    # Failures on one door count on the others: an attacker cannot spread them out.
    for _ in range(LIMIT):
        login_page("lead", "wrong-password")

    assert_locked_out(door, DOORS[door]("lead", "pw-lead"))


def test_below_the_limit_the_right_password_still_works(annotator):
    for _ in range(LIMIT - 1):
        login_page("ann1", "wrong-password")

    assert logged_in("login page", login_page("ann1", "pw-ann1"))


def test_locking_one_username_does_not_lock_another_from_the_same_address(lead, annotator):
    lock_out("login page", "ann1")

    assert logged_in("login page", login_page("lead", "pw-lead"))
    assert logged_in("api token", api_token("lead", "pw-lead"))


def test_the_password_is_not_stored_with_the_failed_attempt(annotator):
    login_page("ann1", "secret-guess-1")
    api_token("ann1", "secret-guess-2")

    attempts = AccessAttempt.objects.filter(username="ann1")
    assert attempts.exists()
    assert not any("secret-guess" in a.post_data + a.get_data for a in attempts)


# Clearing a lock-out.


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def clear_in_admin(client: Client, usernames: list[str]):
    pks = list(
        AccessAttempt.objects.filter(username__in=usernames).values_list("pk", flat=True)
    )
    return client.post(
        "/admin/axes/accessattempt/",
        {"action": "clear_lockouts", "_selected_action": pks, "index": 0},
    )


@pytest.mark.parametrize("door", DOORS)
def test_the_lead_of_the_persons_sprint_clears_the_lockout_in_the_admin(door, lead, make_user,
                                                                        sprint):
    person = make_user("ann-staff", is_staff=True)  # staff, so the admin door can let them in
    SprintMember.objects.create(sprint=sprint, user=person, role=SprintRole.ANNOTATOR)
    lock_out(door, "ann-staff")
    client = admin_client(lead)

    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "ann-staff" in listing.content.decode()
    response = clear_in_admin(client, ["ann-staff"])

    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="ann-staff").exists()
    assert logged_in(door, DOORS[door]("ann-staff", "pw-ann-staff"))
    event = AuditEvent.objects.get(action="login.lockout_cleared")
    assert event.actor == lead and event.object_id == str(person.pk)


def test_a_lead_cannot_clear_a_strangers_lockout(lead, other_sprint, make_user):
    stranger = make_user("stranger")
    SprintMember.objects.create(sprint=other_sprint, user=stranger, role=SprintRole.ANNOTATOR)
    lock_out("login page", "stranger")
    client = admin_client(lead)

    listing = client.get("/admin/axes/accessattempt/")
    assert "stranger" not in listing.content.decode()
    clear_in_admin(client, ["stranger"])
    with pytest.raises(LockoutClearRefused):
        clear_lockout(lead, "stranger")

    assert AccessAttempt.objects.filter(username="stranger").exists()
    assert_locked_out("login page", login_page("stranger", "pw-stranger"))
    assert not AuditEvent.objects.filter(action="login.lockout_cleared").exists()


def test_a_lead_cannot_clear_a_superusers_lockout_even_in_their_sprint(lead, sprint, make_user):
    root = make_user("root", is_staff=True, is_superuser=True)
    SprintMember.objects.create(sprint=sprint, user=root, role=SprintRole.ANNOTATOR)
    lock_out("admin login", "root")

    assert "root" not in admin_client(lead).get("/admin/axes/accessattempt/").content.decode()
    with pytest.raises(LockoutClearRefused):
        clear_lockout(lead, "root")
    assert_locked_out("admin login", admin_login("root", "pw-root"))


def test_a_lead_sees_no_record_details_and_no_global_actions(lead, annotator):
    lock_out("login page", "ann1")
    client = admin_client(lead)

    pk = AccessAttempt.objects.get(username="ann1").pk
    assert client.get(f"/admin/axes/accessattempt/{pk}/change/").status_code == 403
    listing = client.get("/admin/axes/accessattempt/")
    assert "cleanup_expired_attempts" not in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    # Lookups off the allow-list are refused, as on every admin a lead can open.
    assert client.get("/admin/axes/accessattempt/?post_data__contains=pw").status_code == 400


def test_a_member_who_leads_nothing_cannot_open_the_lockouts(annotator, make_user, sprint):
    staff = make_user("helper", is_staff=True)
    SprintMember.objects.create(sprint=sprint, user=staff, role=SprintRole.REVIEWER)

    assert admin_client(staff).get("/admin/axes/accessattempt/").status_code == 403
    with pytest.raises(LockoutClearRefused):
        clear_lockout(staff, "ann1")


def test_an_administrator_clears_any_lockout(make_user, other_sprint, annotator):
    root = make_user("root", is_staff=True, is_superuser=True)
    lock_out("api token", "ann1")

    clear_in_admin(admin_client(root), ["ann1"])

    assert logged_in("api token", api_token("ann1", "pw-ann1"))


def test_the_axes_command_clears_a_lockout(annotator):
    lock_out("login page", "ann1")

    call_command("axes_reset_username", "ann1")

    assert logged_in("login page", login_page("ann1", "pw-ann1"))
