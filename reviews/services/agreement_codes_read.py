"""Reading a sprint's agreement records (:mod:`reviews.services.agreement_codes`) as arrays.

One narrow statement reads the ``agreement_codes`` of the live judgments: on PostgreSQL a
``COPY ... TO STDOUT (FORMAT binary)``, each row one libpq message whose size gives the record's
place in the stream, so the records are cut apart with numpy and never parsed one by one; on
SQLite the same SELECT through the cursor. Records of one length (a sprint's items mostly have
the same number of responses) are decoded together as one (judgments x words) int16 matrix.

:func:`read_codes` also gives the ids of the live judgments without a record (stored before
records were written, or not codable), which the caller reads from their JSON; it answers
``None`` when most live judgments have none or a record was coded for other criteria than the
sprint's rubric now has. The caller then reads the sprint's JSON
(:mod:`reviews.services.agreement_rows`), which gives the same figures.
"""

from collections.abc import Callable
from datetime import datetime

import numpy as np
from django.db import connections

from annotation.models import Criterion, Response, Sprint
from annotation.services.agreement_codes import HEAD, MISSING, VERSION, signature
from reviews.services.agreement_sql import copy_out, live_judgments

BINARY_HEADER, BINARY_TRAILER, TUPLE_PREFIX, ID_BYTES = 19, 2, 6, 8


def codes_statement(sprint: Sprint, until: datetime | None, using: str) -> tuple[str, list]:
    """The SELECT of the live judgments' records, one column: on PostgreSQL, for a judgment
    without one, its id instead (``int8send``: 8 bytes, shorter than any record); on SQLite
    two columns, the id and the record."""
    query = live_judgments(sprint, until).order_by().values_list("id", "agreement_codes")
    sql, params = query.query.get_compiler(using=using).as_sql()
    if connections[using].vendor == "postgresql":
        sql = f"SELECT COALESCE(j.agreement_codes, int8send(j.id)) FROM ({sql}) j"  # noqa: S608
    return sql, list(params)


def read_codes(
    sprint: Sprint,
    criteria: list[Criterion],
    names: list[str],
    until: datetime | None,
    using: str,
    parallel: bool = True,
) -> tuple[dict, np.ndarray] | None:
    """The fields of a :class:`reviews.services.agreement_rows.JudgmentRows` from the records
    of the live judgments, ``answers`` under ``names`` (the Likert and flag criteria in rubric
    order), and the ids of the live judgments without a record (to be read as JSON); None
    when a record was coded for other criteria, or when most live judgments have none (the
    JSON read of the whole sprint is then the cheaper one). ``entry_key`` is the response's
    rank among its own item's keys in code point order, ``keys`` placeholders as many as the
    most responses of an item, and ``item_keys`` gives an item's keys in that order (for
    rankings of gold items)."""
    sql, params = codes_statement(sprint, until, using)
    connection = connections[using]
    if connection.vendor == "postgresql":
        data, sizes = copy_out(connection, sql, params, parallel, "binary")
        words, starts, lengths, missing = _binary_records(data, sizes)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            words, starts, lengths, missing = _joined_records(cursor.fetchall())
    if len(missing) * 2 > len(missing) + len(starts):
        return None
    fields = decode(words, starts, lengths, signature(criteria), names)
    if fields is None:
        return None
    fields["item_keys"] = gold_keys(sprint)
    return fields, missing


def _joined_records(rows: list[tuple]):
    """(words, start, length) of each record from (id, record) rows, and the ids without."""
    records = [bytes(record) for _, record in rows if record is not None]
    missing = np.array([pk for pk, record in rows if record is None], np.int64)
    lengths = np.fromiter(map(len, records), np.int64, len(records))
    if (lengths % 2).any():
        raise ValueError("a record of an odd length")
    lengths //= 2
    starts = np.r_[0, np.cumsum(lengths)[:-1]] if len(lengths) else lengths
    return np.frombuffer(b"".join(records), "<i2"), starts, lengths, missing


def _binary_records(data: bytearray, sizes: list[int]):
    """(words, start, length) of each record of a binary COPY stream of
    :func:`codes_statement`, and the ids sent instead of a record. The first message holds
    the 19-byte file header before its row, the last one is the 2-byte trailer alone (both
    together, 21 bytes, when there are no rows); every row is a field count (2 bytes), a
    length (4) and the value."""
    empty = np.zeros(0, np.int64)
    if len(data) == BINARY_HEADER + BINARY_TRAILER:
        return np.zeros(0, "<i2"), empty, empty, empty
    message = np.array(sizes, np.int64)
    if len(message) < 2 or message[-1] != BINARY_TRAILER:
        raise ValueError("unexpected COPY stream layout")
    message[0] -= BINARY_HEADER
    rows = message[:-1] - TUPLE_PREFIX
    if (rows % 2).any():
        raise ValueError("a record of an odd length")
    body = np.frombuffer(data, np.uint8, len(data) - BINARY_HEADER - BINARY_TRAILER, BINARY_HEADER)
    starts = np.r_[0, np.cumsum(rows + TUPLE_PREFIX)[:-1]] + TUPLE_PREFIX
    ids = rows == ID_BYTES
    missing = empty
    if ids.any():
        missing = body[starts[ids][:, None] + np.arange(ID_BYTES)].copy().view(">i8").ravel()
        starts, rows = starts[~ids], rows[~ids]
    return body.copy().view("<i2"), starts // 2, rows // 2, missing.astype(np.int64)


def decode(
    words: np.ndarray, starts: np.ndarray, lengths: np.ndarray, sign: bytes, names: list[str]
) -> dict | None:
    """The records at ``starts`` (word offsets into ``words``, ``lengths`` words each) as
    arrays, rows in record order within each length, or None when one was coded for other
    criteria than those of ``sign``."""
    expected = np.frombuffer(sign, "<i2")
    parts = []
    for width in np.unique(lengths).tolist():
        chosen = np.flatnonzero(lengths == width)
        matrix = _matrix(words, starts[chosen], width)
        part = _decode_block(matrix, expected, names)
        if part is None:
            return None
        parts.append(part)
    return _joined(parts, names)


def _matrix(words: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The records of one ``width`` as rows of a matrix: a strided view where they lie at one
    stride (one length throughout the stream), a gather otherwise."""
    if width < HEAD or starts[-1] + width > len(words):
        raise ValueError("a record runs past the stream")
    steps = np.diff(starts)
    if len(starts) == 1 or (steps == steps[0]).all():
        stride = int(steps[0]) if len(steps) else width
        base = words[int(starts[0]) :]
        return np.lib.stride_tricks.as_strided(
            base,
            shape=(len(starts), width),
            strides=(stride * words.itemsize, words.itemsize),
            writeable=False,
        )
    return words[starts[:, None] + np.arange(width)]


def _decode_block(matrix: np.ndarray, expected: np.ndarray, names: list[str]) -> dict | None:
    width = matrix.shape[1]
    coded, count = len(expected) // 2, int(matrix[0, 14])
    columns = 2 + len(names)
    body = HEAD + len(expected)
    if (
        width != body + count * columns
        or (matrix[:, 0] != VERSION).any()
        or (matrix[:, 1] != width).any()
        or (matrix[:, 14] != count).any()
        or (matrix[:, 15] != coded).any()
        or (matrix[:, HEAD:body] != expected).any()
    ):
        return None
    ids = np.ascontiguousarray(matrix[:, 2:10]).view("<i8")
    strength = matrix[:, 17].astype(np.float64)
    strength[matrix[:, 17] == MISSING] = np.nan
    entries = matrix[:, body:].reshape(len(matrix), count, columns)
    answers = {}
    for number, name in enumerate(names):
        values = entries[:, :, 2 + number].ravel()
        if name.startswith("flag_"):
            answers[name] = values != 0
        else:
            scores = values.astype(np.float64)
            scores[values == MISSING] = np.nan
            answers[name] = scores
    return {
        "n": count,
        "item": ids[:, 0].astype(np.int64),
        "annotator": ids[:, 1].astype(np.int64),
        "seconds": np.ascontiguousarray(matrix[:, 10:14]).view("<f8")[:, 0].copy(),
        "strength": strength,
        "tie": matrix[:, 16] != 0,
        "entry_key": entries[:, :, 0].ravel().astype(np.int64),
        "entry_place": entries[:, :, 1].ravel().astype(np.int64),
        "answers": answers,
    }


def _joined(parts: list[dict], names: list[str]) -> dict:
    if not parts:
        none = np.zeros(0, np.int64)
        parts = [
            {
                "n": 0,
                **dict.fromkeys(("item", "annotator", "entry_key", "entry_place"), none),
                "seconds": none.astype(np.float64),
                "strength": none.astype(np.float64),
                "tie": none.astype(bool),
                "answers": {
                    name: none.astype(bool if name.startswith("flag_") else np.float64)
                    for name in names
                },
            }
        ]
    rows, offset = [], 0
    for part in parts:
        count = len(part["item"])
        rows.append(np.repeat(np.arange(offset, offset + count, dtype=np.int64), part["n"]))
        offset += count

    def joined(name: str) -> np.ndarray:
        return np.concatenate([part[name] for part in parts])

    return {
        "item": joined("item"),
        "annotator": joined("annotator"),
        "seconds": joined("seconds"),
        "strength": joined("strength"),
        "tie": joined("tie"),
        "entry_row": np.concatenate(rows),
        "entry_key": joined("entry_key"),
        "entry_place": joined("entry_place"),
        "answers": {name: np.concatenate([p["answers"][name] for p in parts]) for name in names},
        "keys": [f"#{rank}" for rank in range(max(part["n"] for part in parts))],
    }


def gold_keys(sprint: Sprint) -> Callable[[int], list[str]]:
    """An item's response keys in code point order, for the ranking of a row of records: the
    keys of every gold item of ``sprint`` are read once, on the first call; any other item is
    read alone."""
    known: dict[int, list[str]] = {}

    def keys(item_id: int) -> list[str]:
        if not known:
            pairs = Response.objects.filter(item__sprint=sprint, item__is_gold=True).values_list(
                "item_id", "key"
            )
            for item, key in pairs:
                known.setdefault(item, []).append(key)
            for listed in known.values():
                listed.sort()
            known.setdefault(-1, [])
        if item_id not in known:
            known[item_id] = sorted(
                Response.objects.filter(item_id=item_id).values_list("key", flat=True)
            )
        return known[item_id]

    return keys
