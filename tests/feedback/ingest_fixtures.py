"""Sources, tokens and events for the ingest tests."""

import copy
from typing import Any

from rest_framework.test import APIClient

from feedback.api.event_docs import EXAMPLE_EVENT

EVENTS_URL = "/api/v1/feedback/events"


def event(event_id: str = "ev-1", **changes: Any) -> dict[str, Any]:
    """The documented example event under another id, with ``changes`` applied on top."""
    body = copy.deepcopy(EXAMPLE_EVENT)
    body["event_id"] = event_id
    body.update(changes)
    return body


def send(client: APIClient, events: list, **extra: Any):
    return client.post(EVENTS_URL, {"events": events, **extra}, format="json")
