import os

import requests

URL = os.environ["CONCORD_URL"] + "/api/v1/feedback/events"
HEADERS = {"Authorization": "Token " + os.environ["CONCORD_INGEST_KEY"]}  # an ingest key, cfi_…


def send_feedback(events: list[dict]) -> dict:
    """Up to 1,000 events a call. Safe to retry: each event_id is stored once."""
    answer = requests.post(URL, json={"events": events}, headers=HEADERS, timeout=30)
    if answer.status_code not in (200, 400):  # 400: every event was rejected, each one listed
        answer.raise_for_status()
    return answer.json()  # accepted, duplicates, merged; rejected: [{index, event_id, errors}]


if __name__ == "__main__":
    print(send_feedback([{
        "event_id": "chat-7f3a-turn-4", "occurred_at": "2026-12-05T10:31:07Z",
        "model": {"name": "support-bot", "version": "2026-11-30"},
        "prompt": "How do I move my plan to annual billing?",
        "response": "Open Settings > Billing and choose Annual.",
        "signals": {"thumb": "down", "reasked": True},
    }]))  # fmt: skip
