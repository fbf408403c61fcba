"""One error shape for the API: ``{"detail": ..., "errors": [{"field", "message", "line"?}]}``.

Every 4xx answer has both keys: ``detail`` a one-line summary, ``errors`` the list of problems
(empty when there is nothing finer to say than the summary, e.g. a 401 or a 404). DRF's
validation errors come as ``{"field": ["message"]}`` and are flattened into the list; a
service's ``ConcordError`` is mapped here, once, so views hold no ``try/except`` for it.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from annotation.services.errors import ConcordError


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list serializer's errors, keyed by the row's index
                out += _flatten(value, f"{prefix}[{key}]" if prefix else str(key))
                continue
            field = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{prefix}.{field}" if prefix and field else (prefix or field))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                out += _flatten(value, f"{prefix}[{index}]" if prefix else str(index))
            else:
                out += _flatten(value, prefix)
        return out
    entry = {"message": str(detail)}
    if prefix:
        entry["field"] = prefix
    return [entry]


def error_body(detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The one error shape, for the few places that answer an error without raising."""
    return {"detail": detail, "errors": errors or []}


def _refused_by_django(exc: Exception) -> ConcordError | None:
    """Django's own refusals of a body (raised as ``SuspiciousOperation``, which would become
    an HTML 400 page) as the one error shape: too big is a 413 naming the limit."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"is larger than the limit of {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)"
        return ConcordError(message, 413, field="body")
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return ConcordError(f"has too many fields or files: {exc}", 400, field="body")
    return None


def concord_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _refused_by_django(exc) or exc
    if isinstance(exc, ConcordError):
        return Response(exc.as_body(), status=exc.status)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = errors[0] if errors else {"message": "Invalid input."}
        where = f"{first['field']}: " if first.get("field") else ""
        response.data = error_body(f"{where}{first['message']}", errors)
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = error_body(str(response.data["detail"]))
    else:
        response.data = error_body(str(exc))
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: the one JSON shape under ``/api/``, the HTML page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: the one JSON shape under ``/api/`` (no detail of the failure)."""
    if _is_api(request):
        return JsonResponse(error_body("Server error."), status=500)
    return defaults.server_error(request)
