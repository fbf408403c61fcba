"""The OpenAPI schema (``/api/schema/``) and Swagger UI (``/api/docs/``): open to anyone in
debug or when ``CONCORD_PUBLIC_API_DOCS`` says so, otherwise to logged-in users only.

Swagger UI is drf-spectacular's split view: its start-up script is a separate static-like
response (``?script``), not an inline ``<script>``, so the site's Content-Security-Policy
(``script-src 'self'``) holds on the docs page too.
"""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class ApiDocsAccess(BasePermission):
    """Anyone when the docs are public (debug, or ``CONCORD_PUBLIC_API_DOCS``); else a user."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if settings.DEBUG or settings.CONCORD_PUBLIC_API_DOCS:
            return True
        return bool(request.user and request.user.is_authenticated)


class ApiSchemaView(SpectacularAPIView):
    permission_classes = [ApiDocsAccess]


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI; an anonymous visitor is sent to the login page and back, not shown JSON."""

    permission_classes = [ApiDocsAccess]

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
