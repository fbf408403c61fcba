"""Ingest tokens: the credentials a product's backend sends feedback with.

Guarantees: the key is random (256 bits from ``secrets``), shown once by :func:`issue_token` and
stored only as its SHA-256, so the database cannot give it back; a token may ingest for the
sources it names and read nothing (``feedback.api.authentication``); only a lead of every one
of those sources (or a superuser) may issue or revoke it, and both are audited.
"""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from feedback.models import FeedbackSource, IngestToken
from feedback.services.feedback_access import may_manage_source

KEY_PREFIX = "cfi_"  # Concord feedback ingest: tells an ingest key from a user's API token


@dataclass(frozen=True)
class IssuedToken:
    token: IngestToken
    key: str  # shown once; never stored


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def is_ingest_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX)


def token_name_taken(name: str, sources: Sequence[FeedbackSource]) -> bool:
    """Whether an active token of any of ``sources`` already has this name."""
    taken = IngestToken.objects.filter(
        name=name.strip()[:200], revoked_at__isnull=True, sources__in=sources
    )
    return taken.exists()


def issue_token(
    actor: AbstractBaseUser, name: str, sources: Sequence[FeedbackSource]
) -> IssuedToken:
    """Make a token that ingests for ``sources``; the returned ``key`` is the only copy."""
    if not name.strip():
        raise ConcordError("A token needs a name.", field="name")
    if not sources:
        raise ConcordError("A token needs at least one source.", field="sources")
    for source in sources:
        if not may_manage_source(actor, source):
            raise ConcordError(
                f"Only a lead of source {source.slug!r} may issue tokens for it.",
                status=403, field="sources",
            )  # fmt: skip
    if token_name_taken(name, sources):
        # Also what stops a reloaded "key issued" page from issuing a second key.
        raise ConcordError(
            "An active token of these sources already has this name; revoke it or choose "
            "another name.", status=409, field="name",
        )  # fmt: skip
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = IngestToken.objects.create(
            name=name.strip()[:200], prefix=key[:12], key_hash=key_digest(key),
            created_by=actor if actor.is_authenticated else None,
        )  # fmt: skip
        token.sources.set(sources)
        record_event(
            actor, "feedback.token_issued", token,
            changes={"name": token.name, "sources": [s.slug for s in sources]},
        )  # fmt: skip
    return IssuedToken(token, key)


def revoke_token(actor: AbstractBaseUser, token: IngestToken) -> None:
    """Stop ``token`` at once; revoking a revoked token changes nothing."""
    for source in token.sources.all():
        if not may_manage_source(actor, source):
            raise ConcordError(
                f"Only a lead of source {source.slug!r} may revoke its tokens.", status=403
            )
    with transaction.atomic():
        if IngestToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        ):
            record_event(actor, "feedback.token_revoked", token, changes={"name": token.name})


def token_for_key(key: str) -> IngestToken | None:
    """The active token with ``key``, or ``None``."""
    return IngestToken.objects.filter(key_hash=key_digest(key), revoked_at__isnull=True).first()
