"""The API's answers about a background job's target (a selection, a feedback sample): the 202
that starts one and the warning its status carries while the workers are unreachable. Views of
any app use these, so every queued job answers alike (annotation.services.jobs)."""

from typing import Any

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from annotation.services.jobs import queue_warning


def job_accepted(request: Request, kind: str, target: Any, status_url_name: str) -> Response:
    """202 ``{"id", "status", "status_url"}`` for ``target`` (a row with ``pk`` and
    ``status``), plus ``warning`` when the broker refused its job's message."""
    answer = {
        "id": target.pk,
        "status": target.status,
        "status_url": reverse(status_url_name, args=[target.pk], request=request),
    }
    warning = queue_warning(kind, target.pk)
    if warning:
        answer["warning"] = warning
    return Response(answer, status=status.HTTP_202_ACCEPTED)


def queued_warning(kind: str, target: Any, queued: str) -> str | None:
    """The "workers are unreachable" warning while ``target`` is still ``queued``."""
    return queue_warning(kind, target.pk) if target.status == queued else None
