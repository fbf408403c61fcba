"""The page a locked-out login gets on the login form and the admin login.

django-axes calls :func:`lockout_page` (``AXES_LOCKOUT_CALLABLE``) from its middleware when it
refused a login for a lock-out. The API's token door does not come here: it answers the API's
JSON error shape itself (``annotation.api.views.ObtainTokenView``).
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.services.lockouts import lockout_message, lockout_retry_after


def lockout_page(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """A readable 429 page with ``Retry-After``; the login form it replaces is not shown."""
    response = render(
        request, "registration/locked_out.html", {"message": lockout_message()}, status=429
    )
    response["Retry-After"] = str(lockout_retry_after())
    return response
