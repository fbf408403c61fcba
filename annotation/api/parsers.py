"""The API's body parsers: JSON, form and multipart, each refusing what cannot be stored.

Every body the API reads passes one of these (they are DRF's ``DEFAULT_PARSER_CLASSES``), so a
view and the service behind it only ever see values within
:mod:`annotation.services.json_limits`: no NUL character, no lone surrogate, at most
``MAX_DEPTH`` levels of nesting, numbers within a signed 64-bit integer's range. A body that
breaks a limit is refused before any view code runs, with a 400 in the API's one error shape
naming the field (``{"detail", "errors": [{"field", "message"}]}``), as is a body that is not
JSON at all. A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413, answered by the exception
handler (``annotation.api.errors``), since Django refuses it before a parser sees a byte.

JSON is read by orjson, which never recurses in Python and stops at 1,024 levels. orjson
refuses a lone surrogate without saying where it is, so only then is the body read a second
time by Python's ``json`` to name the field; Python's ``json`` recurses, and a body too deep
for it is refused as too deep.
"""

import json
import re
from typing import Any

import orjson
from rest_framework import parsers

from annotation.services.errors import ConcordError
from annotation.services.json_limits import DEPTH_MESSAGE, MAX_DEPTH, text_problem, value_problem


class BodyRejected(ConcordError):
    """A request body the API cannot read or store; ``problems`` name the field."""

    default_detail = "The request body was refused."


# A JSON string, or one of the characters that open, close or separate containers.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _deep_member(text: str) -> str:
    """The top-level member (``answers``, ``[2]``) that holds the first container nested more
    than ``MAX_DEPTH`` deep; ``body`` when the root itself is. Scans tokens without recursion,
    on the refusal path only."""
    depth, index, member, root_is_object, expect_key = 0, 0, "body", False, False
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece in ("[", "{"):
            depth += 1
            if depth == 1:
                root_is_object = expect_key = piece == "{"
            elif depth == 2 and not root_is_object:
                member = f"[{index}]"
            if depth > MAX_DEPTH:
                return member
        elif piece in ("]", "}"):
            depth -= 1
        elif piece == ",":
            if depth == 1:
                index += 1
                expect_key = root_is_object
        elif depth == 1 and expect_key:
            member, expect_key = json.loads(piece), False
    return "body"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _second_reading(raw: bytes, encoding: str, first_error: str) -> Any:
    """The body read by Python's ``json``, to find where orjson's complaint lies."""
    try:
        text = raw.decode(encoding, errors="surrogatepass")
    except UnicodeDecodeError:
        raise BodyRejected(f"is not valid JSON: {first_error}", field="body") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyRejected(DEPTH_MESSAGE, field=_deep_member(text)) from None
    except ValueError:
        raise BodyRejected(f"is not valid JSON: {first_error}", field="body") from None


def load_json_body(raw: bytes, encoding: str = "utf-8") -> Any:
    """The decoded body, or :class:`BodyRejected` naming the field at fault."""
    try:
        data = orjson.loads(raw if encoding.lower() in ("utf-8", "utf8") else raw.decode(encoding))
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        data = _second_reading(raw, encoding, str(exc))
        problem = value_problem(data)
        message = [problem] if problem else f"is not valid JSON: {exc}"
        raise BodyRejected(message, field="body") from None
    problem = value_problem(data)
    if problem:
        raise BodyRejected([problem])
    return data


class ConcordJSONParser(parsers.JSONParser):
    """DRF's JSON parser, reading with orjson and refusing what json_limits refuses."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        return load_json_body(stream.read(), encoding)


def _check_form(data: Any, files: Any = None) -> None:
    for key in [*data, *(files or ())]:
        message = text_problem(key)
        if message:
            raise BodyRejected(f"has a field name that {message}", field="body")
    for key in data:
        for value in data.getlist(key):
            message = text_problem(value) if isinstance(value, str) else None
            if message:
                raise BodyRejected(message, field=key)


class ConcordFormParser(parsers.FormParser):
    """DRF's form parser; a field name or value with a NUL character is refused."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class ConcordMultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser; a field name or value with a NUL character is refused (file
    names come sanitised by Django; file contents are the service's to read)."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        result = super().parse(stream, media_type, parser_context)
        _check_form(result.data, result.files)
        return result
