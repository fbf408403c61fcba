"""Keyed hashes that stand for a product's session and user ids.

Concord never stores the ids a product sends for its users and sessions: it stores
``HMAC-SHA256(CONCORD_FEEDBACK_HASH_KEY, "<source>:<kind>:<id>")`` in hex. Keyed, so a leaked
table cannot be reversed by hashing guessed ids; scoped by source and kind, so the same id sent
by two products (or as a user and as a session) gives unrelated hashes. Erasure hashes the id it
is handed the same way and finds the events by the hash; it remembers the erased events by the
hash of their ``event_id`` (kind ``event``), so a replay does not bring them back.
"""

import hashlib
import hmac
from typing import Literal

from django.conf import settings

IdKind = Literal["user", "session", "event"]


def id_hash(source_slug: str, kind: IdKind, value: str) -> str:
    """The stored stand-in for ``value``; empty for an empty id."""
    if not value:
        return ""
    message = f"{source_slug}:{kind}:{value}".encode()
    key = settings.CONCORD_FEEDBACK_HASH_KEY.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
