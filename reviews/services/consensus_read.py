"""A whole sprint's live judgments read once, as columns, for the sprint-wide consensus.

Three statements (items, responses, live judgments), each run on a plain cursor: no model
instance and no per-row query. Answers come back as JSON text and are parsed with orjson once;
each judgment is then reduced to what consensus needs (its vote as response positions, its
strength, its Likert scores and flags per response), kept in numpy arrays so the methods run
column-wise (:mod:`reviews.services.consensus_sprint`). The reading rules are those of the
per-item path (:func:`reviews.services.consensus_data.parse_preference` and the answers of
``_answers`` in :mod:`reviews.services.consensus`), so both label alike.
"""

import gc
import math
from dataclasses import dataclass

import numpy as np
import orjson
from django.db import connections, transaction
from django.db.models import TextField
from django.db.models.functions import Cast

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
    is the most responses an item has."""

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


def _fetch(query) -> list[tuple]:
    sql, params = query.query.sql_with_params()
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def read_sprint(sprint: Sprint, shape: RubricShape) -> SprintVotes:
    """Every item of ``sprint`` with its keys and live judgments. The three statements run in
    one transaction; on PostgreSQL at REPEATABLE READ when no transaction encloses it, so they
    see one snapshot. Reads without locking."""
    using = Judgment.objects.db
    connection = connections[using]
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
        judgments = _fetch(
            Judgment.objects.filter(sprint=sprint, superseded_by__isnull=True)
            .order_by("item_id", "id")
            .annotate(answers_text=Cast("answers", TextField()))
            .values_list("item_id", "id", "annotator_id", "answers_text")
        )
    item_ids = np.array([row[0] for row in items], dtype=np.int64)
    index = {item_id: place for place, item_id in enumerate(item_ids.tolist())}
    keys_of: list[list[str]] = [[] for _ in items]
    for item_id, key in responses:
        keys_of[index[item_id]].append(key)
    keys = [tuple(item_keys) for item_keys in keys_of]
    # Parsing half a million small documents makes as many dicts; a collection pass every few
    # thousand of them would walk them all again and again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(sprint, shape, items, item_ids, keys, index, judgments)
    finally:
        if enabled:
            gc.enable()


def _parse(sprint, shape, items, item_ids, keys, index, judgments) -> SprintVotes:
    """The per-judgment loop: the rules of ``parse_preference`` and of the per-item answers,
    written out over plain lists (orjson gives exact ``dict``, ``list``, ``int`` and ``bool``
    types, so type identity stands in for ``isinstance``)."""
    key_sets = [frozenset(item_keys) for item_keys in keys]
    positions = [{key: place for place, key in enumerate(item_keys)} for item_keys in keys]
    width = max((len(item_keys) for item_keys in keys), default=0)
    count = len(judgments)
    item, code, top = [0] * count, [-1] * count, [-1] * count
    strength = [math.nan] * count
    orders: list[tuple[int, ...] | None] = [None] * count
    class_codes: dict[tuple[int, ...], int] = {}
    classes = ["tie"]
    columns = [(name, False) for name in shape.likert] + [(name, True) for name in shape.flags]
    slots: dict[str, list[int]] = {name: [] for name, _ in columns}
    values: dict[str, list[float]] = {name: [] for name, _ in columns}
    loads, preference = orjson.loads, shape.preference
    for row, (item_id, _, _, text) in enumerate(judgments):
        place = index[item_id]
        item[row] = place
        answers = loads(text) if text else {}
        if answers.__class__ is not dict:
            answers = {}
        value = answers.get(preference) if preference else None
        if value.__class__ is dict:
            ranking = value.get("ranking")
            if value.get("tie") is True:
                code[row] = TIE_CODE
            elif (
                ranking.__class__ is list
                and len(ranking) == len(key_sets[place])
                and set(ranking) == key_sets[place]
            ):
                order = tuple(map(positions[place].__getitem__, ranking))
                orders[row] = order
                top[row] = order[0]
                found = class_codes.get(order)
                if found is None:
                    found = class_codes[order] = len(classes)
                    classes.append(">".join(map(str, order)))
                code[row] = found
                vote_strength = value.get("strength")
                if vote_strength.__class__ is int:
                    strength[row] = vote_strength
        for name, is_flag in columns:
            answer = answers.get(name)
            if answer.__class__ is not dict:
                continue
            base = place * width
            slot, kept = slots[name], values[name]
            for key_place, key in enumerate(keys[place]):
                if is_flag:
                    flag = answer.get(key, False)
                    if flag is True or flag is False:
                        slot.append(base + key_place)
                        kept.append(float(flag))
                else:
                    score = answer.get(key)
                    if score.__class__ is int or score.__class__ is float:
                        slot.append(base + key_place)
                        kept.append(float(score))
    cells = len(items) * width
    answer_columns = {}
    for name, _ in columns:
        at = np.array(slots[name], dtype=np.int64)
        answer_columns[name] = AnswerColumn(
            np.bincount(at, np.array(values[name], dtype=float), cells),
            np.bincount(at, minlength=cells),
        )
    code_array = np.array(code, dtype=np.int64)
    return SprintVotes(
        item_ids=item_ids,
        is_gold=np.array([bool(row[1]) for row in items], dtype=bool),
        keys=keys,
        size=np.array([len(item_keys) for item_keys in keys], dtype=np.int64),
        judgment_ids=np.array([row[1] for row in judgments], dtype=np.int64),
        item=np.array(item, dtype=np.int64),
        annotator=np.array([row[2] for row in judgments], dtype=np.int64),
        voted=code_array >= 0,
        code=code_array,
        orders=orders,
        top=np.array(top, dtype=np.int64),
        strength=np.array(strength, dtype=float),
        classes=classes,
        answers=answer_columns,
        width=width,
    )
