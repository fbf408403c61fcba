"""Ingest redacts an event's texts in one pass (``ingest.redact_event``): each text must come out
exactly as ``redact`` gives it alone, PII at the start or end of a text included, and a span that
would join two texts (a private key block begun in one and ended in another) must not."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from feedback.api.event_docs import EXAMPLE_EVENT
from feedback.services.event_schema import IncomingEvent, read_event
from feedback.services.ingest import redact_event
from feedback.services.redaction import ALL, redact
from tests.feedback.redaction_clean_corpus import clean_cases
from tests.feedback.redaction_corpus import pii_cases

pytestmark = pytest.mark.nodb


def read(**changes) -> IncomingEvent:
    body = copy.deepcopy(EXAMPLE_EVENT)
    body.update(changes)
    event = read_event(body, 0)
    assert isinstance(event, IncomingEvent), event
    return event


def one_by_one(event: IncomingEvent) -> tuple[IncomingEvent, dict[str, int]]:
    """The event with every text redacted alone, and the summed counts."""
    event = copy.deepcopy(event)
    counts: Counter[str] = Counter()

    def clean(text: str) -> str:
        result = redact(text)
        counts.update({str(k): v for k, v in result.counts.items()})
        return result.text

    if isinstance(event.prompt, str):
        event.prompt = clean(event.prompt)
    else:
        for message in event.prompt:
            message["content"] = clean(message["content"])
    for document in event.context:
        for key in ("title", "text", "source"):
            document[key] = clean(document[key])
    event.response = clean(event.response)
    for alternative in event.alternatives:
        alternative["text"] = clean(alternative["text"])
    event.correction, event.comment = clean(event.correction), clean(event.comment)
    return event, dict(counts)


def test_each_text_comes_out_as_it_would_alone():
    pii = [case.text for case in pii_cases(seed=5, per_type=40)]
    clean = [case.text for case in clean_cases(seed=6, n=160)]
    for n in range(0, len(pii), 4):
        a, b, c, d = (pii + clean)[n : n + 4]
        event = read(
            prompt=[{"role": "user", "content": a}, {"role": "user", "content": clean[n % 160]}],
            response={"id": "r1", "text": b},
            context=[{"id": "k", "title": c[:900], "text": d, "source": c[:1900]}],
            signals={"outcome": "corrected", "correction": d, "comment": a},
        )
        expected, counts = one_by_one(event)
        assert redact_event(event, ALL) == counts
        assert vars(event) == vars(expected)


def test_a_private_key_split_between_two_texts_is_not_joined_into_one_span():
    begin = "here it is -----BEGIN RSA PRIVATE KEY-----\nMIIEow"
    end = "AKCAQEA\n-----END RSA PRIVATE KEY----- done"
    event = read(prompt=begin, response={"id": "r1", "text": end})
    expected, counts = one_by_one(event)
    assert redact_event(event, ALL) == counts
    assert (event.prompt, event.response) == (expected.prompt, expected.response)
    assert event.prompt.startswith("here it is -----BEGIN") and event.response.endswith("done")
