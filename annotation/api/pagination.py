"""Page numbers for every paginated list of the API."""

import re
from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

PAGE_NUMBER = re.compile(r"[1-9][0-9]*")


class CheckedPageNumberPagination(pagination.PageNumberPagination):
    """DRF's page numbers, with ``page`` checked: anything but a positive integer (``abc``,
    ``0``, ``-1``, an empty value) is a 400 naming ``page``, where DRF answers 404 "Invalid
    page" as if the request were fine; a page past the last one stays a 404."""

    last_page_strings = ()

    def get_page_number(self, request, paginator) -> str:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return "1"
        if not PAGE_NUMBER.fullmatch(raw):
            raise ValidationError({self.page_query_param: "must be a positive integer"})
        return raw

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
