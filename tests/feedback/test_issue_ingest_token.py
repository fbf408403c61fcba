"""``issue_ingest_token``: a lead of the sources gets a key that ingests; anyone else, or an
unknown source, gets an error and no token."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from feedback.models import IngestToken
from feedback.services.ingest_tokens import token_for_key
from tests.support.builders import feedback_source

pytestmark = pytest.mark.django_db


def issue(*args: str) -> str:
    out = io.StringIO()
    call_command("issue_ingest_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_a_lead_issues_a_key_for_their_source(source, source_lead):
    key = issue("--source", source.slug, "--name", "prod", "--by", source_lead.username)
    assert list(token_for_key(key).sources.all()) == [source]


@pytest.mark.parametrize(
    ("source_slug", "who", "message"),
    [("support-bot", "nobody", "No active user"), ("ghost", "fb-lead", "No such feedback source"),
     ("other", "fb-lead", "Only a lead")],
)  # fmt: skip
def test_refusals_issue_nothing(source, source_lead, make_user, source_slug, who, message):
    feedback_source("other", leads=[make_user("someone-else")])
    with pytest.raises(CommandError, match=message):
        issue("--source", source_slug, "--name", "prod", "--by", who)
    assert IngestToken.objects.count() == 0


def test_a_name_is_taken_until_revoked(source, source_lead):
    issue("--source", source.slug, "--name", "prod", "--by", source_lead.username)
    with pytest.raises(CommandError, match="already has this name"):
        issue("--source", source.slug, "--name", "prod", "--by", source_lead.username)
    assert IngestToken.objects.count() == 1


def test_reloading_the_admins_key_page_issues_no_second_key(source, source_lead, client):
    source_lead.is_staff = True
    source_lead.save()
    client.force_login(source_lead)
    form = {"name": "prod", "sources": [source.pk]}
    first = client.post("/admin/feedback/ingesttoken/add/", form)
    key = re.search(r'value="(cfi_[^"]+)"', first.content.decode()).group(1)
    assert token_for_key(key) is not None
    again = client.post("/admin/feedback/ingesttoken/add/", form)
    assert "has this name already" in again.content.decode()
    assert not re.search(r'value="cfi_', again.content.decode())
    assert IngestToken.objects.count() == 1
