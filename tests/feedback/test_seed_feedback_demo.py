"""``seed_feedback_demo`` (run by ``make run``): demo-lead gets a source with two weeks of
events that went through ingest (so redacted and with production preferences), an ingest key
printed once that really ingests, and a second run changes nothing."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from feedback.models import FeedbackEvent, FeedbackSource, IngestToken, ProductionPreference

pytestmark = pytest.mark.django_db
KEY = re.compile(r"\(shown once\): (cfi_\S+)")


@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True


def seed() -> str:
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_feedback_demo", stdout=out)
    return out.getvalue()


def test_the_demo_source_has_redacted_events_and_a_working_key():
    first = seed()
    source = FeedbackSource.objects.get(slug="demo-support-bot")
    assert source.leads.filter(username="demo-lead").exists()
    events = FeedbackEvent.objects.filter(source=source)
    assert events.count() == 560
    assert not any("sam.lee@example.com" in str(p) for p in events.values_list("prompt"))
    assert events.filter(redaction_counts__has_key="email").exists()
    assert ProductionPreference.objects.filter(event__source=source).exists()
    assert {v for v in events.values_list("model_version", flat=True)} == {"v1", "v2"}
    key = KEY.search(first).group(1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    sent = {"event_id": "try-1", "occurred_at": "2026-12-05T10:00:00Z",
            "model": {"name": "support-bot"}, "prompt": "Hi", "response": "Hello!"}  # fmt: skip
    assert client.post("/api/v1/feedback/events", {"events": [sent]}, format="json").json()[
        "accepted"
    ]

    second = seed()
    assert "0 events stored" in second and not KEY.search(second)
    assert IngestToken.objects.count() == 1
    assert FeedbackEvent.objects.count() == 561


def test_it_refuses_without_debug_or_demo_lead(settings):
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("seed_feedback_demo", stdout=io.StringIO())
    settings.DEBUG = False
    with pytest.raises(CommandError, match="CONCORD_DEBUG"):
        call_command("seed_feedback_demo", stdout=io.StringIO())
