"""The label rows of a sprint-wide consensus, assembled column-wise.

A sprint's labels repeat themselves: a handful of rankings, a few dozen rounded Likert means
and flag shares, confidences and agreements drawn from few vote patterns. So every rounded
number is rounded once per distinct value (Python's ``round``, as the per-item path rounds),
each distinct ranking and each distinct answers mapping is built once and shared by the rows
that have it, and only the dict of each row is made per item. Rows are read-only: rows with
the same ranking or answers share one object.
"""

import math

import numpy as np

from reviews.services.consensus_data import RubricShape
from reviews.services.consensus_methods import TIE, class_ranking
from reviews.services.consensus_read import SprintVotes


def _rounded(values: np.ndarray, digits: int) -> tuple[np.ndarray, list[float]]:
    """Per value the index of its rounded value in the returned list (``round(value,
    digits)`` of each distinct value, so exactly what rounding each one would give)."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return inverse.reshape(-1), [round(value, digits) for value in distinct.tolist()]


def _rounded_list(values: np.ndarray, digits: int) -> list[float]:
    at, table = _rounded(values, digits)
    return [table[place] for place in at.tolist()]


def _answers(data: SprintVotes, shape: RubricShape, places: np.ndarray) -> list[dict]:
    """Per item of ``places``: per Likert criterion the mean score of each response, per flag
    criterion the share that flagged it (4 decimals), over the judgments that answered."""
    names = (*shape.likert, *shape.flags)
    key_sets: dict[tuple[str, ...], int] = {}
    key_set = np.array([key_sets.setdefault(data.keys[p], len(key_sets)) for p in places.tolist()])
    key_list = list(key_sets)
    matrix = [key_set.reshape(-1, 1)]
    tables = []
    for name in names:
        column = data.answers[name]
        at, table = _rounded(column.sums / np.maximum(column.counts, 1), 4)
        code = np.where(column.counts > 0, at, -1).reshape(len(data.item_ids), data.width)
        matrix.append(code[places])
        tables.append(table)
    if not len(places):
        return []
    patterns, inverse = np.unique(np.hstack(matrix), axis=0, return_inverse=True)
    built = []
    for pattern in patterns.tolist():
        keys = key_list[pattern[0]]
        answers = {}
        for number, name in enumerate(names):
            codes = pattern[1 + number * data.width :]
            per_key = {
                key: tables[number][codes[at]] for at, key in enumerate(keys) if codes[at] >= 0
            }
            if per_key:
                answers[name] = per_key
        built.append(answers)
    return [built[at] for at in inverse.reshape(-1).tolist()]


def label_rows(
    data: SprintVotes,
    shape: RubricShape,
    labels: dict[int, tuple[str, str, float]],
    strengths: np.ndarray,
    agreements: np.ndarray,
) -> list[dict]:
    """One row per item index in ``labels`` (``(class, method, confidence)``), in item order:
    the fields of :data:`reviews.services.consensus_store.CONTENT` and ``item_id``.
    ``strengths`` and ``agreements`` hold a value per item (NaN for none)."""
    places = np.array(sorted(labels), dtype=np.int64)
    if not len(places):
        return []
    confidence = np.clip(np.array([labels[p][2] for p in places.tolist()], dtype=float), 0, 1)
    confidences = _rounded_list(confidence, 6)
    agreement = agreements[places]
    agreement_list = _rounded_list(np.where(np.isnan(agreement), 0.0, agreement), 6)
    missing = np.isnan(agreement).tolist()
    strength_list = strengths[places].tolist()
    answers = _answers(data, shape, places)
    judgment_start = np.searchsorted(data.item, np.arange(len(data.item_ids) + 1)).tolist()
    judgment_ids = data.judgment_ids.tolist()
    item_ids = data.item_ids.tolist()
    rankings: dict[tuple[tuple[str, ...], str], list[str] | None] = {}
    rows = []
    for line, place in enumerate(places.tolist()):
        label, method, _ = labels[place]
        keys = data.keys[place]
        ranking = rankings.get((keys, label), TIE)
        if ranking == TIE:
            ranking = rankings[keys, label] = class_ranking(keys, label)
        strength = strength_list[line]
        rows.append(
            {
                "item_id": item_ids[place],
                "ranking": ranking or [],
                "tie": ranking is None,
                "method": str(method),
                "confidence": confidences[line],
                "strength": None if math.isnan(strength) else float(strength),
                "answers": answers[line],
                "agreement": None if missing[line] else agreement_list[line],
                "judgment_ids": judgment_ids[judgment_start[place] : judgment_start[place + 1]],
            }
        )
    return rows
