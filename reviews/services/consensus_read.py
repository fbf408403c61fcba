"""A whole sprint's live judgments read once, as columns, for the sprint-wide consensus.

Three statements (items, responses, live judgments), each run on a plain cursor: no model
instance and no per-row query. The database hands over each criterion's answer as its own JSON
text (``answers -> name``, on PostgreSQL and SQLite alike), never the whole document. Judgments
of a sprint repeat the same few answers (a ranking, a strength, a score per response), so each
distinct pair of (item's response keys, answer text) is parsed once with orjson and reduced to
what consensus needs (the vote as response positions, its strength, Likert scores and flags per
response); numpy then spreads those over every judgment, so the methods run column-wise
(:mod:`reviews.services.consensus_sprint`). The reading rules are those of the per-item path
(:func:`reviews.services.consensus_data.parse_preference` and the answers of ``_answers`` in
:mod:`reviews.services.consensus`), so both label alike.
"""

import gc
import itertools
import math
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd
from django.db import connections, transaction

from annotation.models import Item, Judgment, Response, Sprint
from reviews.services.consensus_data import RubricShape

TIE_CODE = 0  # class code of a tie; the others index SprintVotes.classes


@dataclass
class AnswerColumn:
    """One criterion's answers about responses: sum and count per (item, response position),
    flattened as ``item * width + position``; values summed in judgment order."""

    sums: np.ndarray
    counts: np.ndarray


@dataclass
class SprintVotes:
    """Items in id order (``item_ids``, ``is_gold``, ``keys``, ``size``) and their live
    judgments ordered by item then id (``judgment_ids``, ``item``: index into the items,
    ``annotator``). Per judgment: ``voted`` (a tie or a usable ranking), ``code`` (its class,
    ``TIE_CODE`` for a tie, -1 for no vote; ``classes[code]`` is the class string of
    :func:`reviews.services.consensus_methods.vote_class`), ``orders`` (the ranking as response
    positions, ``None`` for a tie or no vote), ``top`` (position ranked first, -1 for none) and
    ``strength`` (NaN when missing). ``answers`` per Likert and flag criterion name; ``width``
    is the most responses an item has; ``key_set`` per item the index of its keys in the
    distinct ``key_sets``."""

    item_ids: np.ndarray
    is_gold: np.ndarray
    keys: list[tuple[str, ...]]
    size: np.ndarray
    judgment_ids: np.ndarray
    item: np.ndarray
    annotator: np.ndarray
    voted: np.ndarray
    code: np.ndarray
    orders: list[tuple[int, ...] | None]
    top: np.ndarray
    strength: np.ndarray
    classes: list[str]
    answers: dict[str, AnswerColumn]
    width: int
    key_set: np.ndarray
    key_sets: list[tuple[str, ...]]


def _fetch(query) -> list[tuple]:
    sql, params = query.query.sql_with_params()
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _judgments(sprint: Sprint, names: list[str]) -> list[tuple]:
    """``(item_id, id, annotator_id, answer text per name...)`` of the live judgments, ordered
    by item then id; an answer's text is ``None`` when the document has no such key."""
    connection = connections[Judgment.objects.db]
    quote = connection.ops.quote_name
    table = quote(Judgment._meta.db_table)
    answers = quote(Judgment._meta.get_field("answers").column)
    supersedes = quote(Judgment._meta.get_field("supersedes").column)
    picked = "".join(f", CAST(j.{answers} -> %s AS TEXT)" for _ in names)
    # Table and column names come from the model; every value is a parameter.
    sql = (
        f"SELECT j.item_id, j.id, j.annotator_id{picked} FROM {table} j "  # noqa: S608
        f"WHERE j.sprint_id = %s AND NOT EXISTS "
        f"(SELECT 1 FROM {table} s WHERE s.{supersedes} = j.id) ORDER BY j.item_id, j.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*names, sprint.pk])
        return cursor.fetchall()


def read_sprint(sprint: Sprint, shape: RubricShape) -> SprintVotes:
    """Every item of ``sprint`` with its keys and live judgments. The three statements run in
    one transaction; on PostgreSQL at REPEATABLE READ when no transaction encloses it, so they
    see one snapshot. Reads without locking."""
    using = Judgment.objects.db
    connection = connections[using]
    names = [name for name in (shape.preference, *shape.likert, *shape.flags) if name]
    # Half a million fetched rows are as many tuples; a collection pass every few thousand of
    # them would walk them all again and again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        with transaction.atomic(using=using):
            if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            items = _fetch(
                Item.objects.filter(sprint=sprint).order_by("pk").values_list("pk", "is_gold")
            )
            responses = _fetch(
                Response.objects.filter(item__sprint=sprint)
                .order_by("item_id", "position")
                .values_list("item_id", "key")
            )
            judgments = _judgments(sprint, names)
        return _columns(shape, items, responses, judgments)
    finally:
        if enabled:
            gc.enable()


def _distinct(texts, key_set: np.ndarray) -> tuple[np.ndarray, list[tuple[int, str | None]]]:
    """Per judgment the index of its (item keys, answer text) pair among the distinct pairs,
    and those pairs in order of first appearance (so codes given while walking them are the
    codes a walk over the judgments would give)."""
    codes, texts_seen = pd.factorize(np.asarray(texts, dtype=object))
    stride = len(texts_seen) + 1
    pairs, first, inverse = np.unique(
        key_set * stride + codes + 1, return_index=True, return_inverse=True
    )
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    found = [
        (pair // stride, texts_seen[pair % stride - 1] if pair % stride else None)
        for pair in pairs[order].tolist()
    ]
    return rank[inverse.reshape(-1)], found


def _dict(text: str | None) -> dict | None:
    value = orjson.loads(text) if text is not None else None
    return value if value.__class__ is dict else None


def _vote(
    value: dict | None, keys: tuple[str, ...]
) -> tuple[bool, tuple[int, ...] | None, int | None]:
    """(tie, ranking as positions or ``None``, integer strength or ``None``) of one preference
    answer, by the rules of ``parse_preference``; neither a tie nor a ranking: no vote."""
    if value is None:
        return False, None, None
    ranking = value.get("ranking")
    if value.get("tie") is True:
        return True, None, None
    if ranking.__class__ is list and len(ranking) == len(keys) and set(ranking) == set(keys):
        positions = {key: place for place, key in enumerate(keys)}
        strength = value.get("strength")
        return (
            False,
            tuple(map(positions.__getitem__, ranking)),
            (strength if strength.__class__ is int else None),
        )
    return False, None, None


def _entries(value: dict | None, keys: tuple[str, ...], is_flag: bool) -> list[tuple[int, float]]:
    """(response position, value) of one Likert or flag answer: scores that are numbers (not
    booleans); flags that are booleans, a response left out counting as not flagged."""
    if value is None:
        return []
    out = []
    for place, key in enumerate(keys):
        if is_flag:
            flag = value.get(key, False)
            if flag is True or flag is False:
                out.append((place, float(flag)))
        else:
            score = value.get(key)
            if score.__class__ is int or score.__class__ is float:
                out.append((place, float(score)))
    return out


def _spread(
    pick: np.ndarray, found: list[list[tuple[int, float]]], base: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The entries of ``found[pick[j]]`` for every judgment j in turn, as (cell, value) arrays
    in judgment order (``cell`` is ``base[j]`` plus the entry's response position)."""
    sizes = np.array([len(entries) for entries in found], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    flat = [entry for entries in found for entry in entries]
    places = np.array([place for place, _ in flat], dtype=np.int64)
    values = np.array([value for _, value in flat], dtype=float)
    count = sizes[pick]
    total = int(count.sum())
    ends = np.cumsum(count)
    within = np.arange(total) - np.repeat(ends - count, count)
    entry = np.repeat(offsets[pick], count) + within
    return np.repeat(base, count) + places[entry], values[entry]


def _columns(shape: RubricShape, items, responses, judgments) -> SprintVotes:
    """The columns of :class:`SprintVotes` from the fetched rows."""
    item_ids = np.array([row[0] for row in items], dtype=np.int64)
    # Responses come in item order: each item's keys are one slice of them.
    response_items = np.array([row[0] for row in responses], dtype=np.int64)
    all_keys = [row[1] for row in responses]
    bounds = np.searchsorted(response_items, item_ids, side="left").tolist()
    bounds.append(len(all_keys))
    keys = [tuple(all_keys[low:high]) for low, high in itertools.pairwise(bounds)]
    size = np.diff(np.array(bounds, dtype=np.int64))
    key_sets: dict[tuple[str, ...], int] = {}
    item_key_set = np.array([key_sets.setdefault(k, len(key_sets)) for k in keys], dtype=np.int64)
    key_list = list(key_sets)
    width = int(size.max()) if len(size) else 0
    wanted = (1 if shape.preference else 0) + len(shape.likert) + len(shape.flags)
    columns = list(zip(*judgments, strict=True)) if judgments else [()] * (3 + wanted)
    count = len(judgments)
    item = np.searchsorted(item_ids, np.array(columns[0], dtype=np.int64))
    judgment_key_set = item_key_set[item]
    texts = iter(columns[3:])
    code = np.full(count, -1, dtype=np.int64)
    top = np.full(count, -1, dtype=np.int64)
    strength = np.full(count, math.nan)
    orders: list[tuple[int, ...] | None] = [None] * count
    classes = ["tie"]
    if shape.preference:
        pick, found = _distinct(next(texts), judgment_key_set)
        class_codes: dict[tuple[int, ...], int] = {}
        votes = [_vote(_dict(text), key_list[k]) for k, text in found]
        codes, tops, strengths = [], [], []
        for tie, order, vote_strength in votes:
            found_code = -1 if order is None else class_codes.get(order)
            if order is not None and found_code is None:
                found_code = class_codes[order] = len(classes)
                classes.append(">".join(map(str, order)))
            codes.append(TIE_CODE if tie else found_code)
            tops.append(order[0] if order else -1)
            strengths.append(math.nan if vote_strength is None else vote_strength)
        code = np.array(codes, dtype=np.int64)[pick]
        top = np.array(tops, dtype=np.int64)[pick]
        strength = np.array(strengths, dtype=float)[pick]
        order_of = [order for _, order, _ in votes]
        orders = [order_of[at] for at in pick.tolist()]
    cells = len(items) * width
    answer_columns = {}
    for name, is_flag in [(n, False) for n in shape.likert] + [(n, True) for n in shape.flags]:
        pick, found = _distinct(next(texts), judgment_key_set)
        entries = [_entries(_dict(text), key_list[k], is_flag) for k, text in found]
        at, values = _spread(pick, entries, item * width)
        answer_columns[name] = AnswerColumn(
            np.bincount(at, values, cells), np.bincount(at, minlength=cells)
        )
    return SprintVotes(
        item_ids=item_ids,
        is_gold=np.array([bool(row[1]) for row in items], dtype=bool),
        keys=keys,
        size=size,
        judgment_ids=np.array(columns[1], dtype=np.int64),
        item=item,
        annotator=np.array(columns[2], dtype=np.int64),
        voted=code >= 0,
        code=code,
        orders=orders,
        top=top,
        strength=strength,
        classes=classes,
        answers=answer_columns,
        width=width,
        key_set=item_key_set,
        key_sets=key_list,
    )
