"""The feedback methods of :class:`concord_client.Concord`: what a source's lead reads and asks
for (events, sources, erasure, samples, the dashboard), and ``send_events`` for a client made
with an ingest key."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from concord_client.feedback import FeedbackSender, FeedbackSummary

if TYPE_CHECKING:
    import requests

JSON = dict[str, Any]
EVENTS_PAGE = 1000  # the server's largest page of events


class FeedbackLeadMethods:
    """Mixed into :class:`concord_client.Concord`, whose plumbing these methods use."""

    url: str
    timeout: float
    session: requests.Session

    if TYPE_CHECKING:  # Concord's plumbing

        def _call(self, method: str, path: str, **kwargs: Any) -> Any: ...

        def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[JSON]: ...

        def _wait(self, path: str, what: str, timeout: float, poll: float) -> JSON: ...

    # --- a product's backend (a client made with an ingest key) ----------------------------

    def send_events(
        self, events: Iterable[Mapping[str, Any]], source: str | None = None, **options: Any
    ) -> FeedbackSummary:
        """:meth:`concord_client.FeedbackSender.send_events` over this client's connection, for
        a client made with an ingest key (``Concord(url, "cfi_…")``); ``options`` are the
        sender's (``max_events``, ``retries``, ``backoff`` …). Idempotent by ``event_id``."""
        sender = FeedbackSender(
            self.url, None, session=self.session, timeout=self.timeout, **options
        )
        return sender.send_events(events, source)

    # --- a source's leads ------------------------------------------------------------------

    def feedback_sources(self) -> list[JSON]:
        """The feedback sources the caller leads (every source for a superuser)."""
        return list(self._pages("/feedback/sources"))

    def feedback_events(
        self,
        source: str,
        since: datetime.datetime | str | None = None,
        until: datetime.datetime | str | None = None,
        model_version: str | None = None,
    ) -> Iterator[JSON]:
        """A source's stored events (redacted, user and session ids hashed), newest first, read
        a page of 1,000 at a time as the caller iterates. ``since`` is inclusive, ``until``
        exclusive (datetimes with a time zone, or ISO 8601 strings). Pages are numbered, so an
        event ingested while the caller iterates shifts the rest: one may come twice (the same
        ``id``); pass ``until`` to read a fixed window."""
        params: JSON = {"source": source, "page_size": EVENTS_PAGE}
        for name, value in (("since", since), ("until", until)):
            if value is not None:
                params[name] = value.isoformat() if isinstance(value, datetime.datetime) else value
        if model_version is not None:
            params["model_version"] = model_version
        return self._pages("/feedback/events", params)

    def feedback_event(self, event: int) -> JSON:
        """One stored event by its id in Concord (``id`` in :meth:`feedback_events`)."""
        return self._call("GET", f"/feedback/events/{event}")

    def erase_feedback(
        self,
        user_id: str | None = None,
        session_id: str | None = None,
        source: str | None = None,
    ) -> JSON:
        """Erase one product user's (or session's) events, by the id the product sent, in
        ``source`` or in every source the caller leads; items built from them that nobody has
        judged go too, judged ones lose the link. Answers the counts (``events_removed``,
        ``items_removed``, ``items_unlinked``, ``preferences_removed``); erasing again answers
        zeros."""
        given = {"user_id": user_id, "session_id": session_id, "source": source}
        body = {name: value for name, value in given.items() if value is not None}
        return self._call("POST", "/feedback/erasures", json=body)

    def start_feedback_sample(
        self,
        sprint: int,
        n: int,
        filters: JSON | None = None,
        strata: JSON | None = None,
        seed: int = 0,
    ) -> JSON:
        """Start drawing ``n`` events with at least two responses into ``sprint``'s items, as a
        background job. ``filters``: ``source``, ``since``, ``until``, ``model_version``,
        ``stratum``, ``signals`` (``{"thumb": "down", "reasked": true …}``); ``strata``:
        ``{"field": "stratum", "weights": {…}}`` (without it, equal allocation over the
        strata). The same ``seed`` over the same events draws the same sample."""
        body: JSON = {"sprint": sprint, "n": n, "filters": filters or {}, "seed": seed}
        if strata is not None:
            body["strata"] = strata
        return self._call("POST", "/feedback/samples", json=body)

    def feedback_sample(self, sample: int) -> JSON:
        return self._call("GET", f"/feedback/samples/{sample}")

    def wait_for_feedback_sample(
        self, sample: int, timeout: float = 600.0, poll: float = 0.5
    ) -> JSON:
        """The sample once it is done, with its ``report`` (drawn per stratum, skipped and
        why); a failed sample raises with its reason."""
        return self._wait(f"/feedback/samples/{sample}", f"sample {sample}", timeout, poll)

    def feedback_dashboard(self, source: str, days: int = 28) -> JSON:
        """The source's dashboard figures over the last ``days`` days: events per day by signal
        and model version, thumbs-up rate and mean stars per version with 95 % intervals, the
        worst strata and a drift mark per version."""
        return self._call("GET", "/feedback/dashboard", params={"source": source, "days": days})
