"""``python manage.py seed_feedback_demo``: a demo feedback source with two weeks of events.

Run by ``make run`` after ``seed_demo``: the source ``demo-support-bot`` is led by
``demo-lead``, and 14 days of a support assistant's answers from two model versions (thumbs,
stars, corrections, regenerated alternatives, re-asks, some with PII that the ingest redacts)
go in through the ingest service, so the feedback dashboard, the samples and the production
preferences have something to show. Idempotent: events are keyed by ``event_id``, so a second
run stores nothing new. An ingest token is issued once (its key printed that one time), so a
curl from the terminal can send more.
"""

import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from feedback.models import FeedbackSource, IngestToken
from feedback.services.ingest import ingest_events
from feedback.services.ingest_tokens import issue_token

SOURCE = "demo-support-bot"
DAYS = 14
PER_DAY = 40
# Each question with the answer a user would correct the bot's with.
QUESTIONS = {
    "billing": {
        "How do I switch my plan to annual billing?":
            "Settings > Billing > Period > Annual; it applies at your next renewal.",
        "Why was I charged twice this month? My card is 4111 1111 1111 1111.":
            "A second charge is a pending authorisation; it drops off within 3 days.",
        "Can I get an invoice with my company's VAT number?":
            "Add the VAT number under Settings > Billing > Tax details, then download the invoice.",
    },
    "account": {
        "I can't log in, my email is sam.lee@example.com":
            "Use 'Forgot password' on the login page; the reset link is valid for an hour.",
        "How do I enable two-factor authentication?":
            "Settings > Security > Two-factor authentication, then scan the QR code.",
        "How do I delete my account?":
            "Settings > Account > Delete account; your data is removed after 30 days.",
    },
    "shipping": {
        "Where is my order 88213-B?":
            "Orders > 88213-B shows the carrier's tracking link.",
        "Can I change the delivery address after ordering?":
            "Yes, until the order ships: Orders > your order > Change address.",
        "Do you ship to Norway?":
            "Yes, to Norway in 5 to 7 working days; import duties are paid on delivery.",
    },
}  # fmt: skip
ANSWERS = {
    "v1": "Please contact our support team, they will help you with that.",
    "v2": "Open Settings, choose the section for it and follow the steps shown there.",
}


def demo_events(rng: random.Random, now) -> list[dict]:
    """Two weeks of events; v2 answers better, most of all in the last week."""
    events = []
    for day in range(DAYS):
        for n in range(PER_DAY):
            stratum = rng.choice(list(QUESTIONS))
            question = rng.choice(list(QUESTIONS[stratum]))
            version = "v2" if rng.random() < min(0.9, 0.3 + day / DAYS) else "v1"
            good = rng.random() < (0.75 if version == "v2" else 0.45)
            signals: dict = {"thumb": "up" if good else "down", "reasked": not good}
            if rng.random() < 0.5:
                signals["stars"] = rng.randint(4, 5) if good else rng.randint(1, 3)
            event = {
                "event_id": f"demo-{day:02d}-{n:03d}",
                "occurred_at": (now - timedelta(days=DAYS - day, minutes=n * 13)).isoformat(),
                "session_id": f"s-{day}-{n // 3}",
                "user_id": f"u-{rng.randint(1, 120)}",
                "model": {"name": "support-bot", "version": version},
                "prompt": question,
                "response": ANSWERS[version],
                "signals": signals,
                "metadata": {"stratum": stratum, "locale": rng.choice(["en-GB", "en-US"])},
            }
            if not good and rng.random() < 0.3:
                signals["outcome"] = "corrected"
                signals["correction"] = QUESTIONS[stratum][question]
            elif not good and rng.random() < 0.4:
                event["alternatives"] = [
                    {"id": "regen-1", "text": ANSWERS["v2" if version == "v1" else "v1"],
                     "shown": True, "model": {"name": "support-bot", "version": "v2"}}
                ]  # fmt: skip
                signals["picked"] = "regen-1"
            events.append(event)
    return events


class Command(BaseCommand):
    help = "Create a demo feedback source with two weeks of events. Safe to run again."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/")
        parser.add_argument("--force", action="store_true", help="run with debug off")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_feedback_demo is for a local instance (set CONCORD_DEBUG=1).")
        lead = get_user_model().objects.filter(username="demo-lead").first()
        if lead is None:
            raise CommandError("Run `manage.py seed_demo` first: it creates demo-lead.")
        source, _ = FeedbackSource.objects.get_or_create(
            slug=SOURCE, defaults={"name": "Demo support bot", "retention_days": 90}
        )
        source.leads.add(lead)
        events = demo_events(random.Random(7), timezone.now())
        stored = 0
        for start in range(0, len(events), 500):
            stored += len(ingest_events(source, events[start : start + 500]).accepted)
        self.stdout.write(f"Feedback source {SOURCE}: {stored} events stored ({len(events)} sent).")
        url = options["url"].rstrip("/")
        if not IngestToken.objects.filter(sources=source, name="demo").exists():
            key = issue_token(lead, "demo", [source]).key
            self.stdout.write(f"Ingest key for {SOURCE} (shown once): {key}")
            self.stdout.write(
                f"  curl -H 'Authorization: Token {key}' -H 'Content-Type: application/json' "
                f'{url}/api/v1/feedback/events -d \'{{"events": [{{"event_id": "try-1", '
                '"occurred_at": "2026-12-05T10:00:00Z", "model": {"name": "support-bot"}, '
                '"prompt": "Hi", "response": "Hello!", "signals": {"thumb": "up"}}]}\''
            )
        self.stdout.write(f"Leads see the feedback dashboard at {url}/feedback/{SOURCE}/")
