"""The errors the client raises: every refusal is a :class:`ConcordAPIError`."""

from __future__ import annotations

from typing import Any

import requests

JSON = dict[str, Any]


class ConcordAPIError(Exception):
    """A 4xx/5xx answer: ``status``, the one-line ``detail`` and the ``errors`` list
    (``[{"field", "message", "line"?}]``) of the server's one error shape."""

    def __init__(self, status: int, detail: str, errors: list[JSON] | None = None) -> None:
        self.status, self.detail, self.errors = status, detail, errors or []
        super().__init__(f"{status}: {detail}")


class ChecksumMismatch(Exception):
    """A downloaded export whose SHA-256 is not the one the server recorded."""


def error_from(response: requests.Response) -> ConcordAPIError:
    """The error a refused answer stands for, carrying the server's ``errors``."""
    try:
        body = response.json()
    except ValueError:
        return ConcordAPIError(response.status_code, response.text[:500] or response.reason)
    if isinstance(body, dict):
        return ConcordAPIError(
            response.status_code, str(body.get("detail", "")), body.get("errors")
        )
    return ConcordAPIError(response.status_code, str(body)[:500])
