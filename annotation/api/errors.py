"""One error shape for the whole API: ``{"detail": ...}`` or ``{"errors": [...]}``.

DRF's validation errors come as ``{"field": ["message"]}``; clients of Concord get a list of
``{"field", "message"}`` instead, the same shape as an import's ``{"line", "message"}`` list.
"""

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
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


def concord_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"errors": _flatten(exc.detail)}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response
