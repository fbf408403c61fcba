"""The API's answers about a background job's target (a run, a selection, a feedback sample, an
evaluation): the 202 that starts one, its schema, and the warning its status carries while the
workers are unreachable. Views of
any app use these, so every queued job answers alike (annotation.services.jobs)."""

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
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


def job_accepted_schema(
    component: str,
    what: str,
    *,
    status_url: str | None = None,
    extra: dict[str, serializers.Field] | None = None,
) -> Any:
    """The OpenAPI shape of such a 202: ``id``, ``status``, ``status_url`` when the answer
    carries one (``status_url`` says what a GET of it gives), ``warning`` and the ``extra``
    fields a view adds; one wording for every job a request starts."""
    fields: dict[str, serializers.Field] = {
        "id": serializers.IntegerField(),
        "status": serializers.CharField(),
    }
    if status_url is not None:
        fields["status_url"] = serializers.CharField(help_text=f"GET it for {status_url}.")
    fields["warning"] = serializers.CharField(
        required=False,
        help_text=f"Only when the {what} is queued but the workers are unreachable; it starts "
        "when they are back.",
    )
    return inline_serializer(component, fields | (extra or {}))
