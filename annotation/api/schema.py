"""The OpenAPI schema's shared parts, defined once: the API's one error shape, a judgment's
answers by criterion kind, and the ``AutoSchema`` that declares on every operation the error
answers it can give.

Which error statuses an operation declares follows from what the operation takes, so a new
view is documented correctly the day it is added:

- 400 when it reads a body or query parameters (a field, a parameter or the body is bad);
- 401 and 403 when it needs a login (no or a bad token; a role too low in the sprint, or a
  session call without its CSRF token);
- 404 when it has a path parameter or is a paginated list (a page past the end);
- 413 when it reads a body (over the size limit).

A view declares the rest itself (a 409, a 404 found through a query parameter) with an
``OpenApiResponse`` that has only a description; the body of every 4xx is then the one
``Error`` component, added here.
"""

from collections.abc import Mapping
from typing import Any

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from annotation.services.json_limits import MAX_INTEGER

ERROR_DESCRIPTIONS = {
    "400": "A bad body, field or query parameter; `errors` names each.",
    "401": "No credentials, or a token that is not valid.",
    "403": "Logged in, but without the role this needs (or a session call without CSRF).",
    "404": "Not found, or not visible to the caller.",
    "409": "The object is in a state that does not allow this.",
    "413": "The body is over the size limit.",
    "429": "Too many tries; wait as `Retry-After` says.",
}


class ProblemSerializer(serializers.Serializer):
    field = serializers.CharField(
        required=False, help_text="Dotted path of the field at fault, e.g. answers.preference."
    )
    message = serializers.CharField()
    line = serializers.IntegerField(
        required=False, min_value=0, help_text="Line of an imported file (0: the whole file)."
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer of the API."""

    detail = serializers.CharField(help_text="A one-line summary.")
    errors = ProblemSerializer(many=True, help_text="Every problem; may be empty.")

    class Meta:
        ref_name = "Error"


class ClosedBodySerializer(serializers.Serializer):
    """A request body that refuses every field it does not declare (a 400 naming each), where
    DRF ignores them; its schema says so with ``additionalProperties: false``. Its text fields
    take text only: DRF's CharField would turn ``0`` or ``true`` into ``"0"``/``"True"``."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: "Unknown field." for name in unknown})
            not_text = sorted(
                name
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and not field.read_only
                and data.get(name) is not None
                and not isinstance(data.get(name), str)
            )
            if not_text:
                raise serializers.ValidationError({name: "Must be a string." for name in not_text})
        return super().to_internal_value(data)


class ClosedBodySchema(OpenApiSerializerExtension):
    target_class = ClosedBodySerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


class AnswersField(serializers.JSONField):
    """A judgment's answers: an object keyed by criterion name, each value shaped by the
    criterion's kind (annotation.services.answers checks them against the rubric)."""


class ConsensusAnswersField(serializers.JSONField):
    """A consensus label's answers to the criteria other than the preference: per criterion,
    the mean Likert score or the flag share of each response."""


def _component(auto_schema: AutoSchema, name: str, schema: dict[str, Any]) -> dict[str, str]:
    component = ResolvedComponent(
        name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
    )
    auto_schema.registry.register_on_missing(component)
    return component.ref


ANSWERS_EXAMPLE = {
    "preference": {"ranking": ["resp-b", "resp-a"], "strength": 2},
    "helpfulness": {"resp-a": 2, "resp-b": 4},
    "unsafe": {"resp-a": True, "resp-b": False},
    "notes": "B follows the refund policy in the context document; A invents a deadline.",
}


class AnswersFieldSchema(OpenApiSerializerFieldExtension):
    """Answers as components per criterion kind, with an example that a rubric of a preference,
    a Likert, a flag and a text criterion accepts."""

    target_class = AnswersField
    match_subclasses = True

    def get_name(self) -> str:
        return "Answers"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        kinds = [
            _component(
                auto_schema,
                "PreferenceAnswer",
                {
                    "type": "object",
                    "description": "Every response id once, best first; or `tie: true` where "
                    "the rubric allows ties. `strength` (1..number of the rubric's strength "
                    "labels) only where the rubric has a strength scale.",
                    "properties": {
                        "ranking": {"type": "array", "items": {"type": "string"}},
                        "tie": {"type": "boolean"},
                        "strength": {"type": "integer", "minimum": 1},
                    },
                    "additionalProperties": False,
                    "example": ANSWERS_EXAMPLE["preference"],
                },
            ),
            _component(
                auto_schema,
                "LikertAnswer",
                {
                    "type": "object",
                    "description": "A score for every response id, within the criterion's "
                    "min..max.",
                    "additionalProperties": {"type": "integer"},
                    "example": ANSWERS_EXAMPLE["helpfulness"],
                },
            ),
            _component(
                auto_schema,
                "FlagAnswer",
                {
                    "type": "object",
                    "description": "true or false per response id; ids left out are false.",
                    "additionalProperties": {"type": "boolean"},
                    "example": ANSWERS_EXAMPLE["unsafe"],
                },
            ),
            _component(
                auto_schema,
                "TextAnswer",
                {
                    "type": "string",
                    "description": "Free text, at most the criterion's max_length characters.",
                    "example": ANSWERS_EXAMPLE["notes"],
                },
            ),
        ]
        return {
            "type": "object",
            "description": "Keyed by criterion name; each value shaped by the criterion's kind "
            "(preference, likert, flag or text).",
            "additionalProperties": {"anyOf": kinds},
            "example": ANSWERS_EXAMPLE,
        }


class ConsensusAnswersFieldSchema(OpenApiSerializerFieldExtension):
    target_class = ConsensusAnswersField
    match_subclasses = True

    def get_name(self) -> str:
        return "ConsensusAnswers"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return {
            "type": "object",
            "description": "Per Likert or flag criterion: the mean score, or the share of "
            "judgments that flagged it, of each response id.",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": "number"},
            },
            "example": {
                "helpfulness": {"resp-a": 2.5, "resp-b": 4.0},
                "unsafe": {"resp-a": 0.5, "resp-b": 0.0},
            },
        }


def bound_numbers(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: every number in the schema without a bound gets
    the API's, ±``MAX_INTEGER`` (the body parsers refuse any number beyond it, whatever its
    spelling: annotation.services.json_limits)."""

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("integer", "number"):
                node.setdefault("maximum", MAX_INTEGER)
                node.setdefault("minimum", -MAX_INTEGER)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result.get("components", {}).get("schemas", {}))
    visit(result.get("paths", {}))
    return result


class ConcordAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, with the error answers each operation can give (see the
    module's docstring) in the one ``Error`` shape, and one documented body type per view:
    JSON where the view parses JSON, else multipart (a file upload). The form encodings DRF
    also accepts cannot carry a list, an object or a file, so a body the schema allows in
    them would be refused."""

    def map_parsers(self) -> list[Any]:
        media_types = super().map_parsers()
        for preferred in ("application/json", "multipart/form-data"):
            if preferred in media_types:
                return [preferred]
        return media_types

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._error_codes(operation):
            responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        for code, response in responses.items():
            if code.startswith("4") and "content" not in response:
                response["content"] = {"application/json": {"schema": error}}
        return operation

    def _error_codes(self, operation: dict[str, Any]) -> list[str]:
        parameters = operation.get("parameters", [])
        where = {parameter["in"] for parameter in parameters}
        paginated = any(p["in"] == "query" and p["name"] == "page" for p in parameters)
        has_body = "requestBody" in operation
        anonymous = {} in operation.get("security", [{}])
        codes = []
        if has_body or "query" in where:
            codes.append("400")
        if not anonymous:
            codes += ["401", "403"]
        if "path" in where or paginated:
            codes.append("404")
        if has_body:
            codes.append("413")
        return codes
