"""The feedback ingest bench's events: HH-RLHF dialogues turned into product feedback events, made
one at a time (never all N in memory), each with signals and, for a share of them, a PII sentence
injected into one of its texts.

:class:`EventMaker` streams the dialogue file line by line, starting over at its end when N is
larger than the file. Event ``i`` is the same for every phase of a run (a seeded generator per
event), so the three ways into PostgreSQL store the same events. :meth:`EventMaker.row` gives the
row ``COPY`` writes for an event: the ``feedback_feedbackevent`` columns in ingest's order, with
the injected PII already replaced by its placeholder and the ids already hashed, as ingest
stores them.
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from feedback.services.hashing import id_hash
from feedback.services.ingest import COLUMNS, JSON_COLUMNS
from tests.feedback.redaction_corpus import TYPES, pii_cases

TURN = re.compile(r"\n\n(Human|Assistant): ")
ROLES = {"Human": "user", "Assistant": "assistant"}
STRATA = ["billing", "account", "shipping", "technical", "safety", "other"]
LOCALES = ["en-US", "en-GB", "de-DE", "fr-FR", "es-ES"]
SEGMENTS = ["free", "pro", "team", "enterprise"]
VERSIONS = ["2026-11-02", "2026-11-16", "2026-11-30"]
PII_FIELDS = ["prompt", "prompt", "response", "comment", "correction"]
BASE = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
USERS = 5000


def dialogues(path: Path) -> Iterator[tuple[list[dict[str, str]], str, str]]:
    """(prompt messages, chosen reply, rejected reply) of each line, the file read again from
    its start each time it ends."""
    while True:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                row = orjson.loads(line)
                chosen, rejected = row["chosen"], row["rejected"]
                cut = chosen.rfind("\n\nAssistant: ")
                parts = TURN.split(chosen[:cut])[1:]
                messages = [
                    {"role": ROLES[parts[k]], "content": parts[k + 1].strip() or "..."}
                    for k in range(0, len(parts), 2)
                ]
                reply = chosen[cut + len("\n\nAssistant: ") :].strip() or "..."
                other = rejected[cut + len("\n\nAssistant: ") :].strip() or "..."
                if messages:
                    yield messages, reply, other


class EventMaker:
    """Events ``0 … n-1`` for one source, made lazily; see the module docstring."""

    def __init__(self, path: Path, *, pii_share: float, seed: int) -> None:
        self.path, self.pii_share, self.seed = path, pii_share, seed
        pii = pii_cases(seed=seed, per_type=250)
        self.pii = [(case.text, case.secret, f"[{case.pii_type.upper()}]") for case in pii]
        assert {case.pii_type for case in pii} == set(TYPES)
        self.hashes: dict[tuple[str, str, str], str] = {}

    def events(self, n: int) -> Iterator[tuple[dict[str, Any], tuple[str, str, str] | None]]:
        """(event as a product sends it, (field, PII string, placeholder) or None) for each i."""
        source = dialogues(self.path)
        for i in range(n):
            messages, reply, other = next(source)
            yield self._event(i, messages, reply, other)

    def _event(
        self, i: int, messages: list[dict[str, str]], reply: str, other: str
    ) -> tuple[dict[str, Any], tuple[str, str, str] | None]:
        rng = random.Random(self.seed * 1_000_003 + i)
        messages = [dict(m) for m in messages]
        signals: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.7:
            signals["thumb"] = "up" if rng.random() < 0.6 else "down"
        if rng.random() < 0.3:
            signals["stars"] = rng.randint(1, 5)
        if rng.random() < 0.1:
            signals["outcome"] = "corrected"
            signals["correction"] = other
        elif rng.random() < 0.3:
            signals["outcome"] = rng.choice(["accepted", "rejected"])
        if rng.random() < 0.08:
            signals["comment"] = "The answer ignored what I asked first."
        if rng.random() < 0.12:
            signals["reasked"] = True
        if rng.random() < 0.03:
            signals["escalated"] = True
        if rng.random() < 0.2:
            signals["copied"] = True
        signals["dwell_seconds"] = round(rng.uniform(1, 120), 1)
        version = rng.choice(VERSIONS)
        event: dict[str, Any] = {
            "event_id": f"ev-{i:09d}",
            "occurred_at": (BASE + datetime.timedelta(seconds=i)).isoformat(),
            "session_id": f"sess-{i // 4}",
            "user_id": f"user-{rng.randrange(USERS)}",
            "trace_id": f"trace-{i:x}",
            "model": {"name": "support-bot", "version": version},
            "prompt": messages,
            "response": {"id": "r1", "text": reply},
            "signals": signals,
            "metadata": {
                "stratum": rng.choice(STRATA),
                "locale": rng.choice(LOCALES),
                "segment": rng.choice(SEGMENTS),
                "tags": ["web"] if rng.random() < 0.5 else ["app", "ios"],
            },
        }
        if rng.random() < 0.2:
            event["alternatives"] = [
                {"id": "r2", "text": other, "shown": True,
                 "model": {"name": "support-bot", "version": VERSIONS[0]}}
            ]  # fmt: skip
            if rng.random() < 0.5:
                signals["picked"] = rng.choice(["r1", "r2"])
        if rng.random() < 0.25:
            event["context"] = [
                {"id": f"kb-{i % 97}", "title": "Help centre", "text": other[:400] or "...",
                 "source": f"https://help.example.com/kb-{i % 97}", "cited": rng.random() < 0.5}
            ]  # fmt: skip
        injected = None
        if rng.random() < self.pii_share:
            injected = self._inject(rng, event)
        return event, injected

    def _inject(self, rng: random.Random, event: dict[str, Any]) -> tuple[str, str, str] | None:
        sentence, secret, placeholder = self.pii[rng.randrange(len(self.pii))]
        where = rng.choice(PII_FIELDS)
        signals = event["signals"]
        if where in ("comment", "correction") and where not in signals:
            where = "prompt"
        if where == "prompt":
            message = event["prompt"][-1]
            message["content"] = f"{message['content']} {sentence}"
        elif where == "response":
            event["response"]["text"] = f"{event['response']['text']} {sentence}"
        else:
            signals[where] = f"{signals[where]} {sentence}"
        return where, secret, placeholder

    def row(
        self, source_id: int, slug: str, event: dict[str, Any], injected: tuple | None, now: str
    ) -> list[Any]:
        """The stored row of ``event`` (COPY's text values, in ingest's column order)."""
        signals = dict(event["signals"])
        correction = signals.pop("correction", "")
        comment = signals.pop("comment", "")
        prompt, response = event["prompt"], event["response"]["text"]
        if injected:
            where, secret, placeholder = injected
            if where == "prompt":
                last = prompt[-1]
                prompt = [
                    *prompt[:-1],
                    {**last, "content": last["content"].replace(secret, placeholder)},
                ]
            elif where == "response":
                response = response.replace(secret, placeholder)
            elif where == "comment":
                comment = comment.replace(secret, placeholder)
            else:
                correction = correction.replace(secret, placeholder)
        alternatives = event.get("alternatives", [])
        meta = event["metadata"]
        values = {
            "source_id": source_id, "event_id": event["event_id"],
            "occurred_at": event["occurred_at"], "received_at": now,
            "session_hash": self._hash(slug, "session", event["session_id"]),
            "user_hash": self._hash(slug, "user", event["user_id"]),
            "trace_id": event["trace_id"], "model_name": event["model"]["name"],
            "model_version": event["model"]["version"], "prompt": prompt,
            "context": event.get("context", []), "response_id": "r1", "response": response,
            "alternatives": alternatives, "correction": correction, "comment": comment,
            "signals": signals, "thumb": {"up": 1, "down": -1}.get(signals.get("thumb", "")),
            "stars": signals.get("stars"), "outcome": signals.get("outcome", ""),
            "reasked": signals.get("reasked"), "escalated": signals.get("escalated"),
            "stratum": meta["stratum"], "locale": meta["locale"], "segment": meta["segment"],
            "tags": meta["tags"], "response_count": 1 + len(alternatives) + bool(correction),
            "redaction_counts": {placeholder[1:-1].lower(): 1} if injected else {},
            "text_purged_at": None,
        }  # fmt: skip
        return [
            orjson.dumps(values[c]).decode() if c in JSON_COLUMNS else values[c] for c in COLUMNS
        ]

    def _hash(self, slug: str, kind: str, value: str) -> str:
        key = (slug, kind, value)
        if key not in self.hashes:
            if len(self.hashes) > 50_000:
                self.hashes.clear()  # bounded: sessions never repeat after their four events
            self.hashes[key] = id_hash(slug, kind, value)
        return self.hashes[key]
