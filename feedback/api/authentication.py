"""Ingest tokens at the API's door.

:class:`IngestTokenAuthentication` runs first for every API view (``concord/settings.py``): it
claims any ``Authorization: Token cfi_…`` or ``Bearer cfi_…`` header, so such a key is never
looked up as a user's token. A valid key authenticates as nobody (an anonymous user) with the
token as ``request.auth``: every view that asks for an authenticated user refuses it with 403,
and only the ingest view (:class:`IsIngestClient`) lets it in. A revoked or unknown key is a 401.
"""

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from feedback.models import IngestToken
from feedback.services.ingest_tokens import is_ingest_key, token_for_key

KEYWORDS = (b"token", b"bearer")
LAST_USED_EVERY = 60  # seconds: how stale last_used_at may get, to spare a write per batch


class IngestTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() not in KEYWORDS:
            return None
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not is_ingest_key(key):
            return None
        token = token_for_key(key)
        if token is None:
            raise AuthenticationFailed("Unknown or revoked ingest token.")
        now = timezone.now()
        last = token.last_used_at
        if last is None or (now - last).total_seconds() > LAST_USED_EVERY:
            IngestToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return AnonymousUser(), token

    def authenticate_header(self, request) -> str:
        return "Token"


class IsIngestClient(BasePermission):
    """Only an ingest token (request.auth) passes."""

    message = "This needs an ingest token (Authorization: Token cfi_…) for the source."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, IngestToken)


class IngestTokenScheme(OpenApiAuthenticationExtension):
    """The ingest key in the OpenAPI document: the same header as a user's token."""

    target_class = IngestTokenAuthentication
    name = "ingestKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A feedback source's ingest key: `Token cfi_…` (or `Bearer cfi_…`). "
            "It may only POST /api/v1/feedback/events for its sources.",
        }
