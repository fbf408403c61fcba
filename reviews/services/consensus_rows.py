"""The label rows of a sprint-wide consensus, assembled column-wise.

A sprint's labels repeat themselves: a handful of rankings, a few dozen rounded Likert means
and flag shares, confidences and agreements drawn from few vote patterns. So every rounded
number is rounded once per distinct value (Python's ``round``, as the per-item path rounds),
each distinct ranking and each distinct answers mapping is built once and shared by the rows
that have it, and only the dict of each row is made per item. Rows are read-only: rows with
the same ranking or answers share one object.
"""

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
    if not len(places):
        return []
    pattern = data.key_set[places]
    radix = len(data.key_sets)
    for name in names:
        column = data.answers[name]
        means, at = np.unique(column.sums / np.maximum(column.counts, 1), return_inverse=True)
        code = np.where(column.counts > 0, at.reshape(-1) + 1, 0)
        code = code.reshape(len(data.item_ids), data.width)[places]
        for position in range(data.width):
            pattern = pattern * (len(means) + 1) + code[:, position]
            radix *= len(means) + 1
    if radix >= 2**63:  # too many combinations for one integer: one group per item
        pattern = np.arange(len(places))
    # Items with the same keys and the same means share one answers mapping.
    _, first, inverse = np.unique(pattern, return_index=True, return_inverse=True)
    built = []
    for place in places[first].tolist():
        keys = data.keys[place]
        answers = {}
        for name in names:
            column = data.answers[name]
            cells = range(place * data.width, place * data.width + len(keys))
            per_key = {
                key: round(float(column.sums[cell] / max(column.counts[cell], 1)), 4)
                for key, cell in zip(keys, cells, strict=True)
                if column.counts[cell] > 0
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
    strength = strengths[places]
    strength_list = [
        None if gone else value
        for gone, value in zip(np.isnan(strength).tolist(), strength.tolist(), strict=True)
    ]
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
        rows.append(
            {
                "item_id": item_ids[place],
                "ranking": ranking or [],
                "tie": ranking is None,
                "method": method,
                "confidence": confidences[line],
                "strength": strength_list[line],
                "answers": answers[line],
                "agreement": None if missing[line] else agreement_list[line],
                "judgment_ids": judgment_ids[judgment_start[place] : judgment_start[place + 1]],
            }
        )
    return rows
