"""A judgment's answers coded for agreement when it is written, so the report never parses JSON.

:func:`encode` turns one judgment into a compact record, stored in ``Judgment.agreement_codes``
by the INSERT that stores the judgment (judgments are append-only, so a record never goes stale).
The record is an array of little-endian int16 words (numpy ``"<i2"``)::

    0       VERSION
    1       W, the record's length in words
    2..5    item id (int64)          6..9    annotator id (int64)
    10..13  seconds (float64, NaN when none)
    14      n, the responses coded   15      m, the criteria coded
    16      tie (0 or 1)             17      strength (MISSING when none)
    18..    m signature words pairs: crc32 of "<id>/<kind>/<name>" (uint32) per preference,
            Likert and flag criterion of the rubric, in rubric order
    then    n rows of 2 + k words, one per response of the item in key (code point) order:
            the response's rank in that order, its place in the ranking (-1 when unranked),
            then per Likert and flag criterion in rubric order (k of them) the score (MISSING
            when none) or the flag (0 or 1)

It lives in the ground floor because the single door that stores judgments
(:func:`annotation.services.judgments.submit_judgment`) writes it; reviews, a floor above, reads
it. The values are what the JSON read of :mod:`reviews.services.agreement_rows` gives for the same
answers: the report built from records is the same as the one built from JSON. Text criteria
are not coded (agreement does not compare them). Answers not in the shape the validator stores
(:mod:`annotation.services.answers`), a value past int16 or an id past int64 get no record
(``None``): the report then reads that judgment's JSON. The signature lets a reader refuse records
coded for other criteria (a criterion renamed, or a sprint moved to another rubric version).
"""

import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

VERSION = 1
MISSING = -32768
HEAD = 18
LOW, HIGH = MISSING + 1, 32767
PREFERENCE, LIKERT, FLAG = "preference", "likert", "flag"
CODED = (PREFERENCE, LIKERT, FLAG)
_HEAD = struct.Struct("<hhqqdhhhh")


class CriterionLike(Protocol):
    pk: int
    kind: str
    name: str


def coded_criteria(criteria: Iterable[CriterionLike]) -> list[CriterionLike]:
    """The criteria a record codes, in the order given (the rubric's)."""
    return [c for c in criteria if c.kind in CODED]


def signature(criteria: Iterable[CriterionLike]) -> bytes:
    """The signature words of the coded ``criteria`` (2 words per criterion)."""
    coded = coded_criteria(criteria)
    sums = [zlib.crc32(f"{c.pk}/{c.kind}/{c.name}".encode()) for c in coded]
    return struct.pack(f"<{len(sums)}I", *sums)


def encode(
    criteria: Sequence[CriterionLike],
    keys: Sequence[str],
    answers: Any,
    *,
    item_id: int,
    annotator_id: int,
    seconds: float | None,
) -> bytes | None:
    """The record of a judgment of an item whose responses have ``keys``, answering ``answers``
    to the rubric of ``criteria`` (in rubric order); ``None`` when it cannot be coded."""
    if not isinstance(answers, dict) or len(set(keys)) != len(keys):
        return None
    coded = coded_criteria(criteria)
    order = sorted(keys)
    tie, strength, place = 0, MISSING, None
    columns: list[list[int]] = []
    for criterion in coded:
        value = answers.get(criterion.name)
        if value is not None and not isinstance(value, dict):
            return None
        value = value or {}
        if criterion.kind == PREFERENCE:
            parts = _preference(value, order)
            if parts is None:
                return None
            tie, strength, place = parts
        else:
            column = _column(criterion.kind, value, order)
            if column is None:
                return None
            columns.append(column)
    words = []
    for rank, key in enumerate(order):
        words.append(rank)
        words.append(-1 if place is None else place[key])
        words.extend(column[rank] for column in columns)
    sign = signature(coded)
    size = HEAD + len(sign) // 2 + len(words)
    if not (0 <= item_id < 2**63 and 0 <= annotator_id < 2**63) or size > HIGH:
        return None
    seconds = float("nan") if seconds is None else float(seconds)
    head = _HEAD.pack(
        VERSION, size, item_id, annotator_id, seconds, len(order), len(coded), tie, strength
    )
    return head + sign + struct.pack(f"<{len(words)}h", *words)


def _small(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and LOW <= value <= HIGH


def _preference(value: dict, order: list[str]) -> tuple[int, int, dict | None] | None:
    """(tie, strength, place of each key or None when unranked), or None when not codable."""
    tie = value.get("tie")
    if tie is not None and not isinstance(tie, bool):
        return None
    strength = value.get("strength")
    if strength is not None and not _small(strength):
        return None
    ranking = value.get("ranking")
    place = None
    if ranking is not None:
        if not isinstance(ranking, list):
            return None
        if ranking:
            if not all(isinstance(key, str) for key in ranking) or sorted(ranking) != order:
                return None
            place = {key: number for number, key in enumerate(ranking)}
    return int(bool(tie)), MISSING if strength is None else strength, place


def _column(kind: str, value: dict, order: list[str]) -> list[int] | None:
    """The Likert scores (MISSING when none) or flags (0/1) of ``order``, or None."""
    column = []
    for key in order:
        answer = value.get(key)
        if kind == LIKERT:
            if answer is not None and not _small(answer):
                return None
            column.append(MISSING if answer is None else answer)
        else:
            if answer is not None and not isinstance(answer, bool):
                return None
            column.append(int(bool(answer)))
    return column
