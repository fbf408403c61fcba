"""The Python client's feedback side against a live Concord server: a product's backend sends
events in batches within the server's limits (retrying what may be retried, replays counted as
duplicates, refused events reported by their index in the caller's iterable, an event too large
for any batch refused before sending), and a source's lead lists events (redacted), erases a
person, reads the dashboard and draws a sample into a sprint on a real worker. The README's
``requests`` snippet (clients/python/examples/send_feedback.py) runs here exactly as printed."""

import copy
import runpy
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from concord_client import (
    Concord,
    ConcordAPIError,
    FeedbackIncomplete,
    FeedbackSender,
    FeedbackSummary,
)
from django.db import connections

from annotation.models import Item, Sprint, SprintMember, SprintRole
from feedback.api.event_docs import EXAMPLE_EVENT
from feedback.models import FeedbackEvent
from feedback.services.hashing import id_hash
from feedback.services.ingest_tokens import issue_token
from tests.support.builders import feedback_source

pytestmark = pytest.mark.django_db(transaction=True)

SNIPPET = Path(__file__).parents[2] / "clients/python/examples/send_feedback.py"
EMAIL = "jane.roe@example.org"


def event(n: int, **changes) -> dict:
    """The documented example under id ``ev-<n>``, its texts unique to ``n``."""
    body = copy.deepcopy(EXAMPLE_EVENT)
    body["event_id"] = f"ev-{n}"
    body["prompt"] = [{"role": "user", "content": f"How do I move plan {n} to annual billing?"}]
    body["user_id"] = f"customer-{n % 7}"
    body.update(changes)
    return body


def events(count: int, start: int = 0) -> Iterator[dict]:
    """A generator, as a product reading its log would pass."""
    return (event(n) for n in range(start, start + count))


@pytest.fixture
def opened():
    """Clients to close after the test: a kept-alive connection keeps its live-server thread's
    database connection open, and PostgreSQL then refuses to drop the test database."""
    clients: list[Concord | FeedbackSender] = []
    yield clients
    for client in clients:
        client.close()
    time.sleep(0.5)  # the server's handler thread notices the closed socket
    connections.close_all()


@pytest.fixture
def lead(make_user):
    return make_user("fb-client-lead")


@pytest.fixture
def source(lead):
    return feedback_source("support-bot", leads=[lead])


@pytest.fixture
def ingest_key(source, lead) -> str:
    return issue_token(lead, "prod backend", [source]).key


@pytest.fixture
def sender(live_server, ingest_key, opened) -> FeedbackSender:
    client = FeedbackSender(live_server.url, ingest_key, source="support-bot")
    opened.append(client)
    return client


@pytest.fixture
def concord(live_server, lead, opened) -> Concord:
    client = Concord.login(live_server.url, lead.username, f"pw-{lead.username}")
    opened.append(client)
    return client


def test_a_product_sends_2500_events_in_three_batches_and_a_replay_is_all_duplicates(sender):
    summary = sender.send_events(events(2500))
    assert (summary.accepted, summary.duplicates, summary.rejected) == (2500, 0, [])
    assert summary.batches == 3 and summary.retries == 0 and summary.ok
    assert FeedbackEvent.objects.count() == 2500
    again = sender.send_events(events(1200, start=1800))  # 700 known, 500 new
    assert (again.accepted, again.duplicates, again.batches) == (500, 700, 2)
    assert FeedbackEvent.objects.count() == 3000


def test_a_refused_event_is_reported_by_its_index_in_the_callers_iterable(sender):
    def stream():
        yield from events(1500)
        yield event(1500, signals={"thumb": "up", "stars": "five"})
        yield from events(10, start=1501)

    summary = sender.send_events(stream())
    assert summary.accepted == 1510 and summary.batches == 2
    [rejected] = summary.rejected
    assert rejected["index"] == 1500 and rejected["event_id"] == "ev-1500"
    assert rejected["errors"][0]["field"] == "events[1500].signals.stars"
    assert not FeedbackEvent.objects.filter(event_id="ev-1500").exists()


def test_an_event_over_the_byte_limit_is_rejected_here_and_never_sent(sender, monkeypatch):
    posted: list[int] = []
    post = sender.session.post

    def counting(url, data, **kwargs):
        posted.append(len(data))
        return post(url, data=data, **kwargs)

    monkeypatch.setattr(sender.session, "post", counting)
    huge = event(1, response="x" * (10 * 1024 * 1024))
    summary = sender.send_events([event(0), huge, event(2)])
    assert summary.accepted == 2
    assert summary.rejected == [
        {"index": 1, "local": True, "event_id": "ev-1",
         "errors": [{"field": "events[1]", "message": summary.rejected[0]["errors"][0]["message"]}]}
    ]  # fmt: skip
    assert "10485760 bytes" in summary.rejected[0]["errors"][0]["message"]
    assert len(posted) == 1 and max(posted) < 100_000
    assert set(FeedbackEvent.objects.values_list("event_id", flat=True)) == {"ev-0", "ev-2"}


def test_an_event_that_is_not_json_is_rejected_here(sender):
    summary = sender.send_events([event(0, signals={"dwell_seconds": float("nan")}), event(1)])
    assert summary.accepted == 1 and summary.rejected[0]["index"] == 0
    assert summary.rejected[0]["local"] is True


def test_429_5xx_and_lost_connections_are_retried_and_store_nothing_twice(sender, monkeypatch):
    waits: list[float] = []
    sender._sleep = waits.append
    post = sender.session.post
    script = ["503", "answer-lost", "429"]

    def flaky(url, data, **kwargs):
        step = script.pop(0) if script else "pass"
        if step == "answer-lost":  # stored, but the answer never arrives
            post(url, data=data, **kwargs)
            raise requests.ConnectionError("connection reset")
        if step in ("503", "429"):
            return _answer(int(step), retry_after="1")
        return post(url, data=data, **kwargs)

    monkeypatch.setattr(sender.session, "post", flaky)
    summary = sender.send_events(events(20))
    assert summary.retries == 3 and len(waits) == 3
    assert waits[0] >= 1 and waits[2] >= 1  # Retry-After: 1 on the 503 and the 429
    assert (summary.accepted, summary.duplicates) == (0, 20)  # the lost answer had stored them
    assert FeedbackEvent.objects.count() == 20


def test_a_batch_that_keeps_failing_raises_with_what_was_done(sender, monkeypatch):
    sender._sleep = lambda seconds: None
    post = sender.session.post
    calls = {"n": 0}

    def failing_second_batch(url, data, **kwargs):
        calls["n"] += 1
        return post(url, data=data, **kwargs) if calls["n"] == 1 else _answer(502)

    monkeypatch.setattr(sender.session, "post", failing_second_batch)
    with pytest.raises(FeedbackIncomplete) as failed:
        sender.send_events(events(1001))
    assert failed.value.status == 502 and isinstance(failed.value, ConcordAPIError)
    assert failed.value.summary.accepted == 1000 and calls["n"] == 1 + 1 + sender.retries


def test_a_server_with_lower_limits_gets_smaller_batches(sender, settings):
    settings.CONCORD_FEEDBACK_MAX_EVENTS = 300
    summary = sender.send_events(events(1000))
    assert summary.accepted == 1000 and summary.batches == 4  # 413, halves, 413, quarters
    assert FeedbackEvent.objects.count() == 1000


def test_an_event_over_a_lower_server_byte_limit_is_reported_with_the_servers_error(
    sender, settings
):
    settings.CONCORD_FEEDBACK_MAX_BATCH_BYTES = 20_000
    summary = sender.send_events([event(0), event(1, response="y" * 30_000), event(2)])
    assert summary.accepted == 2 and summary.batches == 3
    [rejected] = summary.rejected
    assert rejected["index"] == 1 and "20000 bytes" in rejected["errors"][0]["message"]
    assert set(FeedbackEvent.objects.values_list("event_id", flat=True)) == {"ev-0", "ev-2"}


def test_refusals_of_the_whole_batch_raise_with_the_servers_errors(
    live_server, sender, ingest_key, lead, opened
):
    feedback_source("other-bot", leads=[lead])
    with pytest.raises(FeedbackIncomplete) as wrong_source:
        sender.send_events([event(0)], source="other-bot")
    assert wrong_source.value.status == 403
    assert wrong_source.value.errors[0]["field"] == "source"
    unknown = FeedbackSender(live_server.url, "cfi_not-a-key")
    opened.append(unknown)
    with pytest.raises(ConcordAPIError) as refused:
        unknown.send_events([event(0)])
    assert refused.value.status == 401
    assert FeedbackEvent.objects.count() == 0


def test_a_client_made_with_an_ingest_key_sends_and_reads_nothing(live_server, ingest_key, opened):
    product = Concord(live_server.url, ingest_key)
    opened.append(product)
    summary = product.send_events(events(3))
    assert isinstance(summary, FeedbackSummary) and summary.accepted == 3
    with pytest.raises(ConcordAPIError) as refused:
        list(product.feedback_events("support-bot"))
    assert refused.value.status == 403


def test_a_lead_lists_the_events_redacted(sender, concord, make_user, live_server, opened):
    sender.send_events(
        [
            event(0, prompt=f"Mail me at {EMAIL}", occurred_at="2026-12-01T10:00:00Z"),
            *(event(n, occurred_at="2026-12-03T10:00:00Z") for n in range(1, 1201)),
        ]
    )
    listed = list(concord.feedback_events("support-bot"))
    assert len(listed) == 1201 and len({e["id"] for e in listed}) == 1201  # two pages
    first = concord.feedback_event(listed[-1]["id"])
    assert first["prompt"] == "Mail me at [EMAIL]" and EMAIL not in str(listed)
    assert first["user_hash"] == id_hash("support-bot", "user", "customer-0")
    assert "user_id" not in first
    window = concord.feedback_events(
        "support-bot", since="2026-12-01T00:00:00Z", until="2026-12-02T00:00:00Z"
    )
    assert [e["event_id"] for e in window] == ["ev-0"]
    assert list(concord.feedback_events("support-bot", model_version="none")) == []
    assert [s["slug"] for s in concord.feedback_sources()] == ["support-bot"]
    with pytest.raises(ConcordAPIError) as bad:
        list(concord.feedback_events("support-bot", since="yesterday"))
    assert bad.value.status == 400 and bad.value.errors[0]["field"] == "since"

    make_user("fb-outsider")
    outsider = Concord.login(live_server.url, "fb-outsider", "pw-fb-outsider")
    opened.append(outsider)
    with pytest.raises(ConcordAPIError) as refused:
        list(outsider.feedback_events("support-bot"))
    assert refused.value.status == 403


def test_a_lead_erases_a_person(sender, concord):
    sender.send_events(events(14))  # users customer-0 … customer-6, two events each
    report = concord.erase_feedback(user_id="customer-3", source="support-bot")
    assert report["events_removed"] == 2
    assert FeedbackEvent.objects.count() == 12
    assert concord.erase_feedback(user_id="customer-3")["events_removed"] == 0
    with pytest.raises(ConcordAPIError) as both:
        concord.erase_feedback(user_id="customer-1", session_id="sess-91c2")
    assert both.value.status == 400 and both.value.errors[0]["field"] == "session_id"
    with pytest.raises(ConcordAPIError) as unknown:
        concord.erase_feedback(user_id="customer-1", source="nobody-bot")
    assert unknown.value.status == 404
    assert FeedbackEvent.objects.count() == 12


def test_a_lead_reads_the_dashboard(sender, concord):
    sender.send_events(events(30))
    dashboard = concord.feedback_dashboard("support-bot", days=7)
    assert isinstance(dashboard, dict) and dashboard
    with pytest.raises(ConcordAPIError) as bad:
        concord.feedback_dashboard("support-bot", days=0)
    assert bad.value.status == 400 and bad.value.errors[0]["field"] == "days"


@pytest.mark.worker
def test_a_lead_draws_a_sample_into_a_sprint(celery_worker_process, sender, concord, lead, rubric):
    sprint = Sprint.objects.create(name="From production", slug="from-prod", rubric=rubric)
    SprintMember.objects.create(sprint=sprint, user=lead, role=SprintRole.LEAD)
    sender.send_events(events(40))
    started = concord.start_feedback_sample(
        sprint.pk, 12, filters={"source": "support-bot", "signals": {"thumb": "down"}}, seed=3
    )
    done = concord.wait_for_feedback_sample(started["id"], timeout=120)
    assert done["report"]["drawn"] == 12
    assert Item.objects.filter(sprint=sprint).count() == 12
    with pytest.raises(ConcordAPIError) as bad:
        concord.start_feedback_sample(sprint.pk, 0)
    assert bad.value.status == 400 and bad.value.errors[0]["field"] == "n"


def test_the_readme_snippet_sends_events_with_requests_alone(
    live_server, ingest_key, monkeypatch, capsys
):
    monkeypatch.setenv("CONCORD_URL", live_server.url)
    monkeypatch.setenv("CONCORD_INGEST_KEY", ingest_key)
    snippet = runpy.run_path(str(SNIPPET), run_name="__main__")
    assert "'accepted': [{'index': 0, 'event_id': 'chat-7f3a-turn-4'}]" in capsys.readouterr().out
    answer = snippet["send_feedback"]([event(1), event(2, signals={"stars": 9})])
    assert answer["accepted"] == [{"index": 0, "event_id": "ev-1"}]
    assert answer["rejected"][0]["errors"][0]["field"] == "events[1].signals.stars"
    everything_bad = snippet["send_feedback"]([event(3, colour="red")])
    assert everything_bad["rejected"][0]["index"] == 0
    assert snippet["send_feedback"]([event(1)])["duplicates"] == [{"index": 0, "event_id": "ev-1"}]
    assert FeedbackEvent.objects.count() == 2


def _answer(status: int, retry_after: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b'{"detail": "busy"}'
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response
