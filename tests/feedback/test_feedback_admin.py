"""The feedback admin: a source's leads see and edit only their sources, their events (read-only)
and the tokens that ingest only for them; superusers create sources and set leads; a token's key
is shown once and only its hash is stored; erasure from the admin goes through erase_person."""

import hashlib
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from annotation.models import AuditEvent
from feedback.models import FeedbackEvent, FeedbackSource, IngestToken
from feedback.services.hashing import id_hash
from feedback.services.ingest_tokens import issue_token
from tests.feedback.source_fixtures import *  # noqa: F403 (the fixtures, by name)
from tests.support.builders import feedback_event

pytestmark = pytest.mark.django_db


def admin_url(model: str, view: str, *args) -> str:
    return reverse(f"admin:feedback_{model}_{view}", args=args)


@pytest.fixture
def root(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_lead_lists_and_opens_only_their_sources(fb_lead, bot, wiki):
    client = client_for(fb_lead)
    listed = client.get(admin_url("feedbacksource", "changelist"))
    assert list(listed.context["cl"].result_list) == [bot]
    assert client.get(admin_url("feedbacksource", "change", bot.pk)).status_code == 200
    theirs = client.get(admin_url("feedbacksource", "change", wiki.pk))
    assert theirs.status_code == 302 and theirs["Location"] == reverse("admin:index")


def test_a_lead_edits_their_source_but_not_its_leads_or_slug(fb_lead, other_lead, bot, wiki):
    client = client_for(fb_lead)
    response = client.post(
        admin_url("feedbacksource", "change", bot.pk),
        {"slug": "renamed", "name": "Support bot", "description": "", "retention_days": "14",
         "detectors": '["email"]', "leads": [other_lead.pk]},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    bot.refresh_from_db()
    assert (bot.slug, bot.retention_days, bot.detectors) == ("support-bot", 14, ["email"])
    assert list(bot.leads.all()) == [fb_lead]
    event = AuditEvent.objects.get(action="feedback.source_changed")
    assert event.changes["retention_days"] == {"from": 90, "to": 14}


def test_a_lead_cannot_change_another_lead_source(fb_lead, bot, wiki):
    client_for(fb_lead).post(
        admin_url("feedbacksource", "change", wiki.pk),
        {"name": "taken", "retention_days": "1", "detectors": "[]"},
    )
    wiki.refresh_from_db()
    assert (wiki.name, wiki.retention_days) == ("wiki-rag", 90)


def test_unknown_detectors_are_refused(fb_lead, bot):
    response = client_for(fb_lead).post(
        admin_url("feedbacksource", "change", bot.pk),
        {"name": "x", "retention_days": "30", "detectors": '["telepathy"]'},
    )
    assert response.status_code == 200
    assert "detectors" in response.context["adminform"].form.errors


def test_only_superusers_create_sources_and_set_leads(fb_lead, root, bot):
    assert client_for(fb_lead).get(admin_url("feedbacksource", "add")).status_code == 403
    response = client_for(root).post(
        admin_url("feedbacksource", "add"),
        {"slug": "billing", "name": "Billing", "description": "", "retention_days": "60",
         "detectors": "[]", "leads": [fb_lead.pk]},
    )  # fmt: skip
    assert response.status_code == 302
    billing = FeedbackSource.objects.get(slug="billing")
    assert list(billing.leads.all()) == [fb_lead]
    created = AuditEvent.objects.get(action="feedback.source_created")
    assert created.changes["leads"] == [fb_lead.pk] and created.actor == root


def test_people_who_lead_no_source_do_not_see_the_section(make_user, bot):
    staff = client_for(make_user("sprint-lead", is_staff=True))
    for model in ("feedbacksource", "ingesttoken", "feedbackevent"):
        assert staff.get(admin_url(model, "changelist")).status_code == 403
    assert "feedbacksource" not in staff.get(reverse("admin:index")).text


# --- tokens -------------------------------------------------------------------------------


def test_a_token_key_is_shown_once_and_only_its_hash_stored(fb_lead, bot):
    client = client_for(fb_lead)
    response = client.post(admin_url("ingesttoken", "add"), {"name": "prod", "sources": [bot.pk]})
    assert response.status_code == 200
    [key] = re.findall(r'id="ingest-key"[^>]*value="([^"]+)"', response.text)
    assert "no-store" in response["Cache-Control"]
    token = IngestToken.objects.get()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert list(token.sources.all()) == [bot] and token.prefix == key[:12]
    # Nowhere else: not the token row, the audit log, the admin log, the session, the pages.
    stored = [
        *IngestToken.objects.values_list("name", "prefix", "key_hash"),
        *AuditEvent.objects.values_list("changes", flat=True),
        *LogEntry.objects.values_list("object_repr", "change_message"),
        *Session.objects.values_list("session_data", flat=True),
    ]
    assert key not in str(stored)
    for url in (
        admin_url("ingesttoken", "changelist"),
        admin_url("ingesttoken", "change", token.pk),
    ):
        page = client.get(url).text
        assert key not in page and token.key_hash not in page
    assert token.prefix in client.get(admin_url("ingesttoken", "changelist")).text
    assert AuditEvent.objects.filter(action="feedback.token_issued").count() == 1


def test_a_lead_cannot_issue_a_token_for_another_source(fb_lead, bot, wiki):
    response = client_for(fb_lead).post(
        admin_url("ingesttoken", "add"), {"name": "sneaky", "sources": [wiki.pk]}
    )
    assert response.status_code == 200
    assert "sources" in response.context["adminform"].form.errors
    assert not IngestToken.objects.exists()


def test_a_lead_lists_only_tokens_of_their_own_sources(fb_lead, other_lead, root, bot, wiki):
    mine = issue_token(fb_lead, "mine", [bot]).token
    issue_token(other_lead, "theirs", [wiki])
    issue_token(root, "shared", [bot, wiki])

    listed = client_for(fb_lead).get(admin_url("ingesttoken", "changelist"))
    assert list(listed.context["cl"].result_list) == [mine]
    assert "wiki-rag" not in listed.text
    everything = client_for(root).get(admin_url("ingesttoken", "changelist"))
    assert len(everything.context["cl"].result_list) == 3


def test_revoke_action(fb_lead, other_lead, bot, wiki):
    mine = issue_token(fb_lead, "mine", [bot]).token
    theirs = issue_token(other_lead, "theirs", [wiki]).token
    response = client_for(fb_lead).post(
        admin_url("ingesttoken", "changelist"),
        {"action": "revoke_action", "_selected_action": [mine.pk, theirs.pk]},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    assert AuditEvent.objects.filter(action="feedback.token_revoked").count() == 1


def test_tokens_are_not_deleted_through_the_admin(fb_lead, bot):
    token = issue_token(fb_lead, "mine", [bot]).token
    response = client_for(fb_lead).get(admin_url("ingesttoken", "delete", token.pk))
    assert response.status_code == 403


# --- events -------------------------------------------------------------------------------


@pytest.fixture
def events(bot, wiki):
    return {
        "mine": feedback_event(
            bot, "ev-mine", response="Write to [EMAIL] please.",
            user_hash=id_hash("support-bot", "user", "alice"),
        ),
        "theirs": feedback_event(wiki, "ev-theirs"),
    }  # fmt: skip


def test_a_lead_sees_only_their_sources_events_read_only(fb_lead, events):
    client = client_for(fb_lead)
    listed = client.get(admin_url("feedbackevent", "changelist"))
    assert list(listed.context["cl"].result_list) == [events["mine"]]
    assert "wiki-rag" not in listed.text
    page = client.get(admin_url("feedbackevent", "change", events["mine"].pk))
    assert page.status_code == 200 and "Write to [EMAIL] please." in page.text
    assert 'name="_save"' not in page.text
    theirs = client.get(admin_url("feedbackevent", "change", events["theirs"].pk))
    assert theirs.status_code == 302
    assert client.get(admin_url("feedbackevent", "add")).status_code == 403
    delete = client.get(admin_url("feedbackevent", "delete", events["mine"].pk))
    assert delete.status_code == 403
    assert FeedbackEvent.objects.count() == 2


def test_the_erasure_form_erases_through_the_service(fb_lead, events):
    client = client_for(fb_lead)
    assert client.get(admin_url("feedbackevent", "erase")).status_code == 200
    response = client.post(
        admin_url("feedbackevent", "erase"),
        {"source": "support-bot", "kind": "user_id", "person": "alice"},
    )
    assert response.status_code == 200
    assert response.context["report"].events_removed == 1
    assert "alice" not in response.text
    assert list(FeedbackEvent.objects.all()) == [events["theirs"]]
    assert AuditEvent.objects.filter(action="feedback.person_erased", actor=fb_lead).count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"source": "wiki-rag", "kind": "user_id", "person": "alice"}, "source"),
        ({"source": "", "kind": "user_id", "person": ""}, "person"),
        ({"source": "", "kind": "user_id", "person": "   "}, "person"),
        ({"source": "", "kind": "email", "person": "alice"}, "kind"),
    ],
)
def test_the_erasure_form_refuses_bad_input_and_removes_nothing(fb_lead, events, body, field):
    response = client_for(fb_lead).post(admin_url("feedbackevent", "erase"), body)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert FeedbackEvent.objects.count() == 2
    assert not AuditEvent.objects.filter(action="feedback.person_erased").exists()


def test_the_erasure_form_is_for_leads_only(make_user, events):
    staff = client_for(make_user("sprint-lead", is_staff=True))
    assert staff.get(admin_url("feedbackevent", "erase")).status_code == 403
    response = staff.post(
        admin_url("feedbackevent", "erase"), {"kind": "user_id", "person": "alice"}
    )
    assert response.status_code == 403
    assert FeedbackEvent.objects.count() == 2
