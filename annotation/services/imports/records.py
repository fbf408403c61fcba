"""Parsing one row, in any accepted format, into a normalised :class:`ItemRecord`.

Accepted shapes (detected per row, so a file may not mix them by accident without it being
noticed in review, but need not declare its format):

- Concord: ``external_id``, ``prompt``, ``context``, ``responses``, ``metadata``, ``gold``.
- TRL preference rows: ``prompt`` with ``chosen`` and ``rejected``, as text or chat messages;
  without ``prompt``, chat-message ``chosen``/``rejected`` whose shared turns are the prompt.
- Anthropic HH-RLHF rows: ``chosen`` and ``rejected`` as whole ``\\n\\nHuman: … \\n\\nAssistant: …``
  dialogues; the turns they share become the prompt, the rest each response.
- CSV: the flat case of the Concord shape (``response_<id>`` and ``model_<id>`` columns,
  ``context``/``metadata`` as JSON text, ``gold_ranking`` as ``b>a``), or TRL's three columns.

For chosen/rejected rows the two responses become ``a`` and ``b`` in an order fixed by the
content's digest, never by which one was chosen, so annotators cannot read the old preference
from the ids; that preference is kept in ``metadata["prior_ranking"]``, which annotators never see.
"""

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings

from annotation.services.imports.csv_rows import unflatten_csv_row
from annotation.services.imports.errors import RowError
from annotation.services.imports.storable import (
    Unstorable,
    check_free_parts,
    check_text,
    storable,
)

ROLES = frozenset({"system", "user", "assistant", "tool"})
RESPONSE_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
CONCORD_KEYS = frozenset({"external_id", "prompt", "context", "responses", "metadata", "gold"})
PAIR_KEYS = frozenset({"external_id", "id", "prompt", "chosen", "rejected", "metadata"})
HH_TURN = re.compile(r"\n\n(Human|Assistant): ")
HH_HUMAN, HH_ASSISTANT = "\n\nHuman: ", "\n\nAssistant: "
MAX_EXTERNAL_ID = 255
MAX_SHORT_FIELD = 100


@dataclass(slots=True)
class ResponseRecord:
    key: str
    text: str
    model_name: str = ""
    model_version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ItemRecord:
    external_id: str
    prompt: str | list[dict[str, str]]
    context: list[dict[str, str]]
    responses: list[ResponseRecord]
    metadata: dict[str, Any]
    source: str
    stratum: str
    gold: dict[str, Any] | None
    content_sha256: str


def parse_row(row: dict[str, Any], *, flat: bool = False) -> ItemRecord:
    """Normalise one row or raise :class:`RowError` naming the field. ``flat`` marks a CSV row,
    whose cells are all text. A row must also be storable (:mod:`.storable`)."""
    if flat:
        row = unflatten_csv_row(row)
    return storable(row, _parse_shape)


def _parse_shape(row: dict[str, Any]) -> ItemRecord:
    if "responses" in row:
        return _parse_concord(row)
    if "chosen" in row or "rejected" in row:
        return _parse_pair(row)
    raise RowError(
        "no responses: give 'responses' (Concord), or 'chosen' and 'rejected' (TRL, HH-RLHF)",
        "responses",
    )


# --- Concord rows -------------------------------------------------------------------------


def _parse_concord(row: dict[str, Any]) -> ItemRecord:
    unknown = sorted(set(row) - CONCORD_KEYS)
    if unknown:
        raise RowError(f"unknown field(s) {', '.join(map(repr, unknown))}", unknown[0])
    prompt = _prompt(row.get("prompt"))
    context = _context(row.get("context", []))
    responses = _responses(row.get("responses"))
    metadata = _metadata(row.get("metadata", {}))
    gold = _gold(row.get("gold"), [r.key for r in responses])
    return _record(row.get("external_id"), prompt, context, responses, metadata, gold)


def _prompt(value: Any, field_name: str = "prompt") -> str | list[dict[str, str]]:
    if value is None:
        raise RowError("is missing", field_name)
    if isinstance(value, str):
        if not value.strip():
            raise RowError("is empty", field_name)
        return value
    if isinstance(value, list):
        if not value:
            raise RowError("is an empty list of messages", field_name)
        return _messages(value, field_name)
    raise RowError("must be text or a list of chat messages", field_name)


def _messages(value: list[Any], field_name: str) -> list[dict[str, str]]:
    messages = []
    for index, message in enumerate(value):
        where = f"{field_name}[{index}]"
        if not isinstance(message, dict):
            raise RowError("must be an object with 'role' and 'content'", where)
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise RowError(f"role must be one of {', '.join(sorted(ROLES))}", f"{where}.role")
        if not isinstance(content, str):
            raise RowError("content must be text", f"{where}.content")
        messages.append({"role": role, "content": content})
    return messages


def _context(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError("must be a list of documents", "context")
    documents, seen = [], set()
    for index, doc in enumerate(value):
        where = f"context[{index}]"
        if not isinstance(doc, dict):
            raise RowError("must be an object with 'id' and 'text'", where)
        unknown = sorted(set(doc) - {"id", "title", "text", "source"})
        if unknown:
            raise RowError(f"unknown field(s) {', '.join(map(repr, unknown))}", where)
        doc_id = doc.get("id", str(index + 1))
        if isinstance(doc_id, int) and not isinstance(doc_id, bool):
            doc_id = str(doc_id)
        if not isinstance(doc_id, str) or not doc_id:
            raise RowError("id must be non-empty text", f"{where}.id")
        if doc_id in seen:
            raise RowError(f"document id {doc_id!r} is repeated", f"{where}.id")
        seen.add(doc_id)
        text = doc.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RowError("text is missing or empty", f"{where}.text")
        out = {"id": doc_id, "text": text}
        for key in ("title", "source"):
            if key in doc and doc[key] is not None:
                if not isinstance(doc[key], str):
                    raise RowError("must be text", f"{where}.{key}")
                out[key] = doc[key]
        documents.append(out)
    return documents


def _responses(value: Any) -> list[ResponseRecord]:
    if value is None:
        raise RowError("is missing", "responses")
    if not isinstance(value, list):
        raise RowError("must be a list of responses", "responses")
    if len(value) < 2:
        raise RowError(f"needs at least two responses to compare, got {len(value)}", "responses")
    limit = settings.CONCORD_IMPORT_MAX_RESPONSES
    if len(value) > limit:
        raise RowError(
            f"has {len(value)} responses, more than the limit of {limit} per item"
            " (CONCORD_IMPORT_MAX_RESPONSES)",
            "responses",
        )
    responses, keys, texts = [], set(), {}
    for index, response in enumerate(value):
        where = f"responses[{index}]"
        if not isinstance(response, dict):
            raise RowError("must be an object with 'id' and 'text'", where)
        unknown = sorted(set(response) - {"id", "text", "model", "model_version", "metadata"})
        if unknown:
            raise RowError(f"unknown field(s) {', '.join(map(repr, unknown))}", where)
        key = response.get("id", "abcdefghijklmnopqrstuvwxyz"[index] if index < 26 else None)
        if not isinstance(key, str) or not RESPONSE_KEY.match(key):
            raise RowError("id must be 1-64 letters, digits, '_', '.' or '-'", f"{where}.id")
        if key in keys:
            raise RowError(f"response id {key!r} is repeated", f"{where}.id")
        keys.add(key)
        text = response.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RowError("text is missing or empty", f"{where}.text")
        if text in texts:
            raise RowError(f"has the same text as response {texts[text]!r}", f"{where}.text")
        texts[text] = key
        model_name = _short_text(response.get("model", ""), f"{where}.model", 200)
        model_version = _short_text(response.get("model_version", ""), f"{where}.model_version")
        metadata = response.get("metadata", {})
        if not isinstance(metadata, dict):
            raise RowError("must be an object", f"{where}.metadata")
        responses.append(ResponseRecord(key, text, model_name, model_version, metadata))
    return responses


def _short_text(value: Any, field_name: str, limit: int = MAX_SHORT_FIELD) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowError("must be text", field_name)
    if len(value) > limit:
        raise RowError(f"is longer than {limit} characters", field_name)
    return value


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowError("must be an object", "metadata")
    for key in ("source", "stratum"):
        _short_text(value.get(key), f"metadata.{key}")
    tags = value.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RowError("must be a list of text tags", "metadata.tags")
    return value


def _gold(value: Any, keys: list[str]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RowError('must be an object such as {"ranking": ["b", "a"]}', "gold")
    ranking = value.get("ranking")
    if (
        not isinstance(ranking, list)
        or sorted(map(str, ranking)) != sorted(keys)
        or not all(isinstance(k, str) for k in ranking)
    ):
        raise RowError(
            f"ranking must order every response id exactly once ({', '.join(keys)})",
            "gold.ranking",
        )
    return value


# --- chosen / rejected rows ---------------------------------------------------------------


def _parse_pair(row: dict[str, Any]) -> ItemRecord:
    for name in ("chosen", "rejected"):
        if name not in row or row[name] in (None, "", []):
            raise RowError("is missing or empty", name)
    chosen, rejected = row["chosen"], row["rejected"]
    extras = {k: v for k, v in row.items() if k not in PAIR_KEYS}
    metadata = _metadata(row.get("metadata", {}))
    if "prompt" in row:
        prompt = _prompt(row["prompt"])
        chosen_text = _completion_text(chosen, "chosen")
        rejected_text = _completion_text(rejected, "rejected")
        origin = "trl"
    elif isinstance(chosen, str) and isinstance(rejected, str):
        prompt, chosen_text, rejected_text = _split_hh(chosen, rejected)
        origin = "hh-rlhf"
    elif isinstance(chosen, list) and isinstance(rejected, list):
        prompt, chosen_text, rejected_text = _split_conversations(chosen, rejected)
        origin = "trl"
    else:
        raise RowError("chosen and rejected must both be text or both chat messages", "rejected")
    for text, name in ((chosen_text, "chosen"), (rejected_text, "rejected")):
        if not text.strip():
            raise RowError("the response part is empty", name)
    if chosen_text == rejected_text:
        raise RowError("chosen and rejected are the same text: nothing to compare", "rejected")
    # Which of the two becomes "a" depends on the texts alone, so a re-import assigns the same.
    flip = (
        hashlib.blake2b(
            chosen_text.encode() + b"\0" + rejected_text.encode(), digest_size=1
        ).digest()[0]
        & 1
    )
    keys = ("b", "a") if flip else ("a", "b")
    texts = {keys[0]: chosen_text, keys[1]: rejected_text}
    responses = [ResponseRecord(key, texts[key]) for key in ("a", "b")]
    metadata = {**metadata, "format": origin, "prior_ranking": list(keys)}
    if extras:
        metadata["extra"] = extras
    external_id = row.get("external_id", row.get("id"))
    return _record(external_id, prompt, [], responses, metadata, None)


def _completion_text(value: Any, field_name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        messages = _messages(value, field_name)
        return "\n\n".join(m["content"] for m in messages)
    raise RowError("must be text or a list of chat messages", field_name)


def _hh_turns(dialogue: str) -> list[dict[str, str]]:
    parts = HH_TURN.split(dialogue)[1:]
    return [
        {"role": "user" if speaker == "Human" else "assistant", "content": text}
        for speaker, text in zip(parts[::2], parts[1::2], strict=True)
    ]


def _shared_prefix_length(a: str, b: str) -> int:
    """Length of the common prefix, by bisection over slice comparisons (done in C), since
    HH dialogues share almost all their text."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _split_hh(chosen: str, rejected: str) -> tuple[list[dict[str, str]], str, str]:
    """Split two HH-RLHF dialogues at the Assistant turn where they part: the turns before it
    are the prompt, the rest of each dialogue its response."""
    for text, name in ((chosen, "chosen"), (rejected, "rejected")):
        if not text.startswith(HH_HUMAN):
            raise RowError(
                "without a prompt, must be an HH-RLHF dialogue starting '\\n\\nHuman: '", name
            )
    shared = _shared_prefix_length(chosen, rejected)
    # The last turn marker that starts at or before the first differing character.
    boundary = max(
        chosen.rfind(HH_HUMAN, 0, shared + len(HH_HUMAN)),
        chosen.rfind(HH_ASSISTANT, 0, shared + len(HH_ASSISTANT)),
    )
    if boundary <= 0 or not (
        chosen.startswith(HH_ASSISTANT, boundary) and rejected.startswith(HH_ASSISTANT, boundary)
    ):
        raise RowError(
            "chosen and rejected must share their opening turns and part at an Assistant reply",
            "rejected",
        )
    start = boundary + len(HH_ASSISTANT)
    return _hh_turns(chosen[:boundary]), chosen[start:], rejected[start:]


def _split_conversations(
    chosen: list[Any], rejected: list[Any]
) -> tuple[list[dict[str, str]], str, str]:
    chosen, rejected = _messages(chosen, "chosen"), _messages(rejected, "rejected")
    shared = 0
    while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
        shared += 1
    prompt = chosen[:shared]
    if not prompt:
        raise RowError("chosen and rejected share no opening turns to use as the prompt", "chosen")
    if prompt[-1]["role"] == "assistant":
        raise RowError("the shared turns must end with the user's turn", "chosen")
    return (
        prompt,
        "\n\n".join(m["content"] for m in chosen[shared:]),
        "\n\n".join(m["content"] for m in rejected[shared:]),
    )


# --- the record ---------------------------------------------------------------------------


def _record(
    external_id: Any,
    prompt: str | list[dict[str, str]],
    context: list[dict[str, str]],
    responses: list[ResponseRecord],
    metadata: dict[str, Any],
    gold: dict[str, Any] | None,
) -> ItemRecord:
    check_free_parts(metadata, gold, [response.metadata for response in responses])
    content = {
        "prompt": prompt,
        "context": context,
        "responses": [
            [r.key, r.text, r.model_name, r.model_version, r.metadata] for r in responses
        ],
        "metadata": metadata,
        "gold": gold,
    }
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    if b"\\u0000" in canonical:
        raise Unstorable()
    digest = hashlib.sha256(canonical).hexdigest()
    if external_id is None or external_id == "":
        external_id = f"sha-{digest[:24]}"
    elif isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        raise RowError("must be non-empty text", "external_id")
    if len(external_id) > MAX_EXTERNAL_ID:
        raise RowError(f"is longer than {MAX_EXTERNAL_ID} characters", "external_id")
    check_text(external_id, "external_id")
    return ItemRecord(
        external_id=external_id,
        prompt=prompt,
        context=context,
        responses=responses,
        metadata=metadata,
        source=str(metadata.get("source") or ""),
        stratum=str(metadata.get("stratum") or ""),
        gold=gold,
        content_sha256=digest,
    )
