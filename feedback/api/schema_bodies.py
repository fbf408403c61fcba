"""Request bodies the feedback API reads itself, described in OpenAPI by a JSON Schema.

The ingest batch, the erasure and the sample request are read by services (or a hand-written
reader), not by serializers, so their schema is written as JSON Schema beside the views. A bare
dict given to drf-spectacular as the request leaves the body optional in the document, and a
client (or schemathesis) may then send none; :func:`documented_body` wraps the schema in a
serializer that exists only for the document, and the postprocessing hook
:func:`require_documented_bodies` (``SPECTACULAR_SETTINGS``) marks every body that refers to one
required, whatever shape its schema has (a ``oneOf`` has no top-level ``required`` for
drf-spectacular to go by).
"""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

_COMPONENTS: set[str] = set()


def documented_body(name: str, schema: dict[str, Any]) -> type[serializers.Serializer]:
    """A serializer class called ``name`` that the schema shows as ``schema`` (required)."""
    serializer = type(
        name,
        (serializers.Serializer,),
        {"__doc__": "A request body described by its JSON Schema (the view reads it).",
         "__module__": __name__},
    )  # fmt: skip

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return schema

    _COMPONENTS.add(f"{name}Request")  # the name COMPONENT_SPLIT_REQUEST gives it
    # Defining the subclass registers it with drf-spectacular.
    type(
        f"{name}Schema",
        (OpenApiSerializerExtension,),
        {"target_class": serializer, "map_serializer": map_serializer, "__module__": __name__},
    )
    return serializer


def require_documented_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: bodies described by :func:`documented_body` are
    required."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body:
                continue
            for media in body.get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                if ref.rsplit("/", 1)[-1] in _COMPONENTS:
                    body["required"] = True
    return result
