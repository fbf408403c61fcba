"""Sending a product's feedback events to Concord: :class:`FeedbackSender`.

A product's backend holds an ingest key (``cfi_…``, issued by a lead of the source) and hands
:meth:`FeedbackSender.send_events` any iterable of events (dicts in the shape of
``POST /api/v1/feedback/events``; the OpenAPI schema at ``/api/schema/`` and the README describe
it). The sender reads the iterable lazily, so a generator over millions of events needs memory for
one batch only.
"""

from __future__ import annotations

import datetime
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from concord_client.errors import ConcordAPIError, error_from

JSON = dict[str, Any]
MAX_EVENTS = 1000  # the server's CONCORD_FEEDBACK_MAX_EVENTS by default
MAX_BATCH_BYTES = 10 * 1024 * 1024  # the server's CONCORD_FEEDBACK_MAX_BATCH_BYTES by default
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_BATCH_FIELD = re.compile(r"^events\[(\d+)\]")


@dataclass
class FeedbackSummary:
    """What became of the events of one :meth:`FeedbackSender.send_events` call.

    ``accepted``, ``duplicates`` (already stored: a replay) and ``merged`` (known events that
    gained new alternatives) are counts. ``rejected`` lists each refused event as ``{"index",
    "event_id"?, "errors": [{"field", "message"}]}``, ``index`` counting from 0 in the caller's
    iterable and every field renumbered to match (``events[2417].signals.stars``); ``local`` is
    true for an event refused here without being sent (too large for a batch, not JSON).
    ``redactions`` counts the PII the server replaced, by type."""

    accepted: int = 0
    duplicates: int = 0
    merged: int = 0
    rejected: list[JSON] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    retries: int = 0

    @property
    def ok(self) -> bool:
        """Every event is stored (newly, as a duplicate, or merged)."""
        return not self.rejected


class FeedbackIncomplete(ConcordAPIError):
    """A batch the server kept refusing (or never answered) after the retries, or refused as a
    whole (a 401, a 403 for the source). ``summary`` holds what the earlier batches achieved;
    sending the same events again is safe (see :meth:`FeedbackSender.send_events`). ``status`` is
    0 when no answer came (a connection error or time-out)."""

    def __init__(
        self, status: int, detail: str, errors: list[JSON] | None, summary: FeedbackSummary
    ) -> None:
        super().__init__(status, detail, errors)
        self.summary = summary


@dataclass
class _Batch:
    indexes: list[int] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)
    size: int = 0


class FeedbackSender:
    """Sends feedback events to the Concord server at ``url`` with an ingest key.

    ``ingest_key`` is the ``cfi_…`` key a lead of the source issued (``None`` when ``session``
    already sends it). ``source`` is the source's slug; it may be left out when the key ingests
    for one source only.
    ``max_events`` and ``max_batch_bytes`` must not exceed the server's limits (the defaults are
    the server's defaults). ``retries`` is how many times one batch is sent again after a 408,
    429, 5xx, connection error or time-out, waiting ``backoff`` seconds, doubled each time up to
    ``max_backoff`` (with jitter; a ``Retry-After`` header is obeyed within ``max_backoff``).
    """

    def __init__(
        self,
        url: str,
        ingest_key: str | None,
        *,
        source: str | None = None,
        timeout: float = 60.0,
        session: requests.Session | None = None,
        max_events: int = MAX_EVENTS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.source = source
        self.timeout = timeout
        self.session = session or requests.Session()
        if ingest_key:
            self.session.headers["Authorization"] = f"Token {ingest_key}"
        self.max_events = max_events
        self.max_batch_bytes = max_batch_bytes
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self._sleep = sleep

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> FeedbackSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_events(
        self, events: Iterable[Mapping[str, Any]], source: str | None = None
    ) -> FeedbackSummary:
        """Send every event of ``events`` (any iterable, read once and lazily) in batches within
        the server's limits, and say what became of each.

        Safe to retry: the server stores an event once per ``event_id`` and source, so a batch
        sent again (by the retries here after a lost answer, or by the caller re-running the whole
        call after :class:`FeedbackIncomplete`) stores nothing twice; replays count as
        ``duplicates``. Events must therefore carry stable ``event_id`` values.

        A refused event does not stop the others: it is listed in ``rejected`` with its index in
        ``events`` and the server's errors. An event that alone exceeds ``max_batch_bytes``, or
        that is not JSON (``datetime`` values are sent as ISO 8601), is rejected here and never
        sent. A 413 from a server with lower limits splits the batch in two and sends both halves.

        Raises :class:`FeedbackIncomplete` (a :class:`ConcordAPIError`, with the summary so far)
        when a batch is refused as a whole (401, 403, a 400 about the body) or still fails after
        the retries."""
        slug = source if source is not None else self.source
        summary = FeedbackSummary()
        for batch in self._batches(events, slug, summary):
            self._send(batch, slug, summary)
        summary.rejected.sort(key=lambda entry: entry["index"])
        return summary

    # --- batching --------------------------------------------------------------------------

    def _envelope(self, slug: str | None) -> tuple[bytes, bytes]:
        head = b'{"source":' + _dumps(slug) + b',"events":[' if slug else b'{"events":['
        return head, b"]}"

    def _batches(
        self, events: Iterable[Mapping[str, Any]], slug: str | None, summary: FeedbackSummary
    ) -> Iterator[_Batch]:
        head, tail = self._envelope(slug)
        room = self.max_batch_bytes - len(head) - len(tail)
        batch = _Batch()
        for index, event in enumerate(events):
            try:
                encoded = _dumps(event)
            except (TypeError, ValueError) as exc:
                summary.rejected.append(_local(index, event, f"is not JSON: {exc}"))
                continue
            if len(encoded) > room:
                message = (
                    f"is {len(encoded)} bytes; a batch may hold at most {self.max_batch_bytes} "
                    "bytes (CONCORD_FEEDBACK_MAX_BATCH_BYTES): not sent"
                )
                summary.rejected.append(_local(index, event, message))
                continue
            separator = 1 if batch.encoded else 0
            if batch.encoded and (
                len(batch.encoded) >= self.max_events
                or batch.size + separator + len(encoded) > room
            ):
                yield batch
                batch, separator = _Batch(), 0
            batch.indexes.append(index)
            batch.encoded.append(encoded)
            batch.size += separator + len(encoded)
        if batch.encoded:
            yield batch

    # --- sending ---------------------------------------------------------------------------

    def _send(self, batch: _Batch, slug: str | None, summary: FeedbackSummary) -> None:
        pending = [batch]
        while pending:
            part = pending.pop(0)
            response = self._post(part, slug, summary)
            if response.status_code == 413 and len(part.indexes) > 1:
                half = len(part.indexes) // 2
                pending[:0] = [_slice(part, 0, half), _slice(part, half, len(part.indexes))]
                continue
            summary.batches += 1
            body = _json_or_none(response)
            if response.status_code < 400 or (
                response.status_code == 400 and isinstance(body, dict) and "rejected" in body
            ):
                _record(summary, part.indexes, body or {})
            elif response.status_code == 413:  # one event the server alone refuses
                error = error_from(response)
                summary.rejected.append(
                    {"index": part.indexes[0], "errors": _renumber(error.errors, part.indexes)}
                )
            else:
                error = error_from(response)
                raise FeedbackIncomplete(error.status, error.detail, error.errors, summary)

    def _post(self, part: _Batch, slug: str | None, summary: FeedbackSummary) -> requests.Response:
        head, tail = self._envelope(slug)
        data = head + b",".join(part.encoded) + tail
        url = f"{self.url}/api/v1/feedback/events"
        headers = {"Content-Type": "application/json"}
        attempt = 0
        while True:
            response = None
            try:
                response = self.session.post(url, data=data, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.retries:
                    detail = f"no answer after {attempt + 1} tries: {exc}"
                    raise FeedbackIncomplete(0, detail, [], summary) from exc
            else:
                if response.status_code not in RETRIED_STATUSES or attempt == self.retries:
                    return response
            summary.retries += 1
            self._sleep(self._delay(attempt, response))
            attempt += 1

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        wait = min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.strip().isdigit():
            wait = max(wait, min(self.max_backoff, float(retry_after)))
        return wait


def _dumps(value: Any) -> bytes:
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_iso
    ).encode()


def _iso(value: Any) -> str:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _local(index: int, event: Any, message: str) -> JSON:
    rejected: JSON = {"index": index, "local": True}
    if isinstance(event, Mapping) and isinstance(event.get("event_id"), str):
        rejected["event_id"] = event["event_id"]
    rejected["errors"] = [{"field": f"events[{index}]", "message": message}]
    return rejected


def _slice(batch: _Batch, start: int, stop: int) -> _Batch:
    encoded = batch.encoded[start:stop]
    return _Batch(batch.indexes[start:stop], encoded, sum(map(len, encoded)) + len(encoded) - 1)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _record(summary: FeedbackSummary, indexes: list[int], body: JSON) -> None:
    summary.accepted += len(body.get("accepted", []))
    summary.duplicates += len(body.get("duplicates", []))
    summary.merged += len(body.get("merged", []))
    summary.redactions.update(body.get("redactions", {}))
    for entry in body.get("rejected", []):
        rejected = dict(entry)
        rejected["index"] = indexes[entry["index"]]
        rejected["errors"] = _renumber(entry.get("errors", []), indexes)
        summary.rejected.append(rejected)


def _renumber(errors: list[JSON], indexes: list[int]) -> list[JSON]:
    """The server names fields by the index within the batch; the caller knows its own."""

    def caller(match: re.Match[str]) -> str:
        position = int(match.group(1))
        return f"events[{indexes[position]}]" if position < len(indexes) else match.group(0)

    return [
        {**error, "field": _BATCH_FIELD.sub(caller, error["field"])}
        if isinstance(error.get("field"), str)
        else error
        for error in errors
    ]
