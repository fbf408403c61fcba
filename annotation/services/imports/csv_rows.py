"""CSV rows: the flat columns of the Concord shape (``response_<id>``, ``model_<id>``,
``context`` and ``metadata`` as JSON text, ``source``, ``stratum``, ``tags``, ``gold_ranking`` as
``b>a``) folded back into the nested row that :func:`records.parse_row` reads."""

import re
from typing import Any

import orjson

from annotation.services.imports.errors import RowError
from annotation.services.imports.readers import EMPTY_RESPONSES


def unflatten_csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row's text cells as the JSON shape the record parser reads; a row of TRL's three
    columns passes through as it is."""
    row = dict(row)
    empty = row.pop(EMPTY_RESPONSES, [])
    if "chosen" in row or "rejected" in row:
        return row
    out: dict[str, Any] = {}
    responses: dict[str, dict[str, Any]] = {}
    metadata: dict[str, Any] = {}
    for column, cell in row.items():
        if column.startswith("response_"):
            responses.setdefault(column.removeprefix("response_"), {})["text"] = cell
        elif column.startswith("model_"):
            responses.setdefault(column.removeprefix("model_"), {})["model"] = cell
        elif column in ("context", "metadata"):
            try:
                value = orjson.loads(cell)
            except orjson.JSONDecodeError as exc:
                raise RowError(f"must be JSON text: {exc}", column) from exc
            if column == "metadata":
                if not isinstance(value, dict):
                    raise RowError("must be a JSON object", column)
                metadata.update(value)
            else:
                out[column] = value
        elif column in ("source", "stratum"):
            metadata[column] = cell
        elif column == "tags":
            metadata["tags"] = [t.strip() for t in re.split(r"[;,]", cell) if t.strip()]
        elif column == "gold_ranking":
            out["gold"] = {"ranking": [k.strip() for k in re.split(r"[>,]", cell) if k.strip()]}
        elif column in ("external_id", "prompt"):
            out[column] = cell
        else:
            raise RowError(f"unknown column {column!r}", column)
    for key, response in responses.items():
        if "text" not in response:
            raise RowError(f"has model_{key} but no response_{key}", f"model_{key}")
    if len(responses) < 2 and empty:
        raise RowError(
            f"is empty, which leaves {len(responses)} response; each item needs at least two "
            "to compare",
            empty[0],
        )
    out["responses"] = [{"id": key, **response} for key, response in responses.items()]
    if metadata:
        out["metadata"] = metadata
    return out
