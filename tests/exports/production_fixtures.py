"""Feedback events with production preferences, for the export tests: a source the sprint's
lead leads (``support-bot``: a correction of a chat prompt, a pick between two shown responses,
a pick of an alternative never shown) and one they do not (``docs-bot``)."""

from datetime import UTC, datetime

from feedback.services.production_preferences import record_preferences
from tests.support.builders import feedback_event, feedback_source

CHAT = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How do I reset my password?"}]  # fmt: skip
DAY_ONE = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY_TWO = datetime(2026, 11, 2, 12, tzinfo=UTC)


def shown(alt_id: str, text: str, shown: bool = True) -> dict:
    return {"id": alt_id, "text": text, "model": {"name": "bot", "version": "v2"}, "shown": shown}


def production_events(lead, other_lead=None):
    """The two sources and their events, with the pairs recorded: support-bot gives a
    correction (ev-1, day one, v1) and a pick (ev-2, day two, v2); docs-bot a correction."""
    support = feedback_source("support-bot", leads=[lead])
    docs = feedback_source("docs-bot", leads=[other_lead] if other_lead else [])
    events = [
        feedback_event(support, "ev-1", prompt=CHAT, occurred_at=DAY_ONE, trace_id="t-1",
                       response="Open the app.", correction="Open Settings, then Security."),
        feedback_event(support, "ev-2", occurred_at=DAY_TWO, model_version="v2",
                       prompt="Where is my invoice?", response="Look around.",
                       alternatives=[shown("b", "Billing, then Invoices.")],
                       signals={"picked": "b"}),
        feedback_event(support, "ev-3", occurred_at=DAY_TWO, prompt="Cancel my plan?",
                       alternatives=[shown("b", "Never seen.", shown=False)],
                       signals={"picked": "b"}),
        feedback_event(docs, "ev-9", occurred_at=DAY_ONE, correction="Read the docs."),
    ]  # fmt: skip
    assert record_preferences(event.pk for event in events) == 3
    return support, docs
