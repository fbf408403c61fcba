"""The sprint-wide consensus, column-wise: every item of a sprint labelled from one read.

The same policy and the same numbers as the per-item path (``label_items`` in
:mod:`reviews.services.consensus`), computed over numpy arrays of all the sprint's votes at
once: majority counts, Dawid-Skene posteriors (the model's E-step on every item, the log terms
added in vote order as the per-item path adds them), Bradley-Terry fits (solved a chunk of
``CHUNK_ITEMS`` items and one item size at a time, as the per-item path groups them, so they
stop after the same iterations), agreement from the counts of each pairwise answer, and the
means of Likert scores and flags. Only the assembly of each label row is a Python loop.
"""

import math
from dataclasses import dataclass

import numpy as np

from reviews.models import ConsensusMethod
from reviews.services.consensus_data import CHUNK_ITEMS, RubricShape
from reviews.services.consensus_methods import (
    EPS,
    TIE,
    DawidSkeneParams,
    bradley_terry,
    vote_class,
)
from reviews.services.consensus_read import TIE_CODE, SprintVotes
from reviews.services.consensus_rows import label_rows

AUTO = "auto"
# Plain strings: compared and stored once per item, where enum member lookups would add up.
UNANIMOUS, MAJORITY = ConsensusMethod.UNANIMOUS.value, ConsensusMethod.MAJORITY.value
DAWID_SKENE, BRADLEY_TERRY = ConsensusMethod.DAWID_SKENE.value, ConsensusMethod.BRADLEY_TERRY.value


@dataclass
class Votes:
    """The voting judgments of :class:`SprintVotes`, with where each item's votes start."""

    item: np.ndarray
    code: np.ndarray
    annotator: np.ndarray
    top: np.ndarray
    strength: np.ndarray
    orders: list
    start: np.ndarray
    count: np.ndarray


def votes_of(data: SprintVotes) -> Votes:
    rows = np.flatnonzero(data.voted)
    item = data.item[rows]
    count = np.bincount(item, minlength=len(data.item_ids))
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    orders = [data.orders[row] for row in rows.tolist()]
    return Votes(
        item, data.code[rows], data.annotator[rows], data.top[rows], data.strength[rows],
        orders, start, count,
    )  # fmt: skip


def _majority(data: SprintVotes, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """Per item the class code more than half its votes share (-1 when none) and its count."""
    width = len(data.classes)
    pairs, counts = np.unique(votes.item * width + votes.code, return_counts=True)
    items = pairs // width
    strict = counts * 2 > votes.count[items]
    code = np.full(len(data.item_ids), -1, dtype=np.int64)
    held = np.zeros(len(data.item_ids), dtype=np.int64)
    code[items[strict]] = pairs[strict] % width
    held[items[strict]] = counts[strict]
    return code, held


def _posteriors(
    data: SprintVotes, votes: Votes, fit: DawidSkeneParams, wanted: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For the items ``wanted`` (indices): the index of the most probable class in
    ``fit.classes`` and its posterior, exactly as :meth:`DawidSkeneParams.posterior` gives."""
    index = {label: place for place, label in enumerate(fit.classes)}
    class_of = np.array([index.get(label, -1) for label in data.classes], dtype=np.int64)
    chosen = np.zeros(len(data.item_ids), dtype=bool)
    chosen[wanted] = True
    rows = np.flatnonzero(chosen[votes.item] & (class_of[votes.code] >= 0))
    answer = class_of[votes.code[rows]]
    stride = len(fit.classes)
    pairs, which = np.unique(votes.annotator[rows] * stride + answer, return_inverse=True)
    logs = [fit._log_row(*divmod(pair, stride)) for pair in pairs.tolist()]
    usable = np.array([row is not None for row in logs], dtype=bool)
    table = np.array([row or [0.0] * len(fit.classes) for row in logs]).reshape(
        len(logs), len(fit.classes)
    )
    which = which.reshape(-1)
    rows, which = rows[usable[which]], which[usable[which]]
    log = np.tile([math.log(max(prior, EPS)) for prior in fit.priors], (len(data.item_ids), 1))
    rank = rows - votes.start[votes.item[rows]]
    for place in range(int(rank.max()) + 1 if len(rank) else 0):
        now = rank == place  # one vote per item: terms added in vote order
        log[votes.item[rows[now]]] += table[which[now]]
    log = log[wanted]
    # math.exp (as the per-item path) of each distinct value only: items share vote patterns.
    shifted, at = np.unique((log - log.max(axis=1, keepdims=True)).ravel(), return_inverse=True)
    weights = np.array([math.exp(value) for value in shifted.tolist()])[at].reshape(log.shape)
    total = np.zeros(len(wanted))
    for column in range(weights.shape[1]):
        total = total + weights[:, column]
    posterior = weights / total[:, None]
    best = posterior.argmax(axis=1)
    return best, posterior[np.arange(len(wanted)), best]


def _wins(votes: Votes, places: list[int], size: int) -> np.ndarray:
    """:func:`win_matrix` of every item in ``places`` (all of ``size`` responses) at once:
    counts of whole and half wins, so the sums are exact in any order."""
    place_array = np.array(places, dtype=np.int64)
    count = votes.count[place_array]
    ends = np.cumsum(count)
    rows = np.repeat(votes.start[place_array] - (ends - count), count) + np.arange(int(ends[-1]))
    local = np.repeat(np.arange(len(places)), count)
    tie = votes.code[rows] == TIE_CODE
    rank = np.zeros((len(rows), size), dtype=np.int64)
    ranked = np.flatnonzero(~tie)
    orders = np.array([votes.orders[row] for row in rows[ranked].tolist()], dtype=np.int64)
    if len(ranked):
        rank[ranked[:, None], orders] = np.arange(size)
    above = (rank[:, :, None] < rank[:, None, :]) & ~tie[:, None, None]
    cells = size * size
    wins = np.bincount(
        (local[:, None] * cells + np.arange(cells)).ravel(),
        above.reshape(len(rows), cells).ravel().astype(float),
        len(places) * cells,
    ).reshape(len(places), size, size)
    ties = np.bincount(local[tie], minlength=len(places)).astype(float)
    return wins + 0.5 * ties[:, None, None] * (1 - np.eye(size))


def _bradley_terry(data: SprintVotes, votes: Votes, wanted: np.ndarray) -> dict[int, tuple]:
    """(ranking, confidence) per item index in ``wanted``, solved per chunk and size."""
    results = {}
    chunk = np.asarray(wanted) // CHUNK_ITEMS
    for part in np.unique(chunk):
        groups: dict[int, list[int]] = {}
        for place in np.asarray(wanted)[chunk == part].tolist():
            groups.setdefault(len(data.keys[place]), []).append(place)
        for size, places in groups.items():
            strengths = bradley_terry(_wins(votes, places, size))
            # bradley_terry_ranking, row-wise: strongest first, equal strengths in key order.
            order = np.argsort(-strengths, axis=1, kind="stable")
            ranked = np.take_along_axis(strengths, order, axis=1)
            neighbours = ranked[:, :-1] / (ranked[:, :-1] + ranked[:, 1:])
            confidence = neighbours.min(axis=1) if size > 1 else np.ones(len(places))
            found = zip(places, order.tolist(), confidence.tolist(), strict=True)
            for place, positions, value in found:
                keys = data.keys[place]
                results[place] = ([keys[index] for index in positions], value)
    return results


def _agreement(data: SprintVotes, votes: Votes) -> np.ndarray:
    """Per item :func:`reviews.services.agreement.item_agreement` of its votes (NaN below two):
    per pair of responses, annotator pairs agree when they answer it alike (above, below, tie)."""
    items = len(data.item_ids)
    agreeing = np.zeros(items, dtype=np.int64)
    pairs = np.zeros(items, dtype=np.int64)
    tie = votes.code == TIE_CODE
    size = data.size[votes.item]
    for width in np.unique(data.size[data.size >= 2]).tolist():
        rows = np.flatnonzero(size == width)
        place = np.zeros((len(rows), width), dtype=np.int64)
        if width == 2:
            place[:, 1] = np.where(votes.top[rows] == 0, 1, -1)
        else:
            for line, row in enumerate(rows.tolist()):
                order = votes.orders[row]
                if order is not None:
                    place[line, list(order)] = np.arange(width)
        for first in range(width):
            for second in range(first + 1, width):
                answer = np.where(tie[rows], 0, np.sign(place[:, second] - place[:, first]))
                for value in (-1, 0, 1):
                    same = np.bincount(votes.item[rows][answer == value], minlength=items)
                    agreeing += same * (same - 1) // 2
        pairs[np.flatnonzero(data.size == width)] = width * (width - 1) // 2
    total = votes.count * (votes.count - 1) // 2 * pairs
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(votes.count >= 2, agreeing / total, np.nan)


def _strengths(votes: Votes, label_top: np.ndarray) -> np.ndarray:
    """Per item the median strength of the votes whose best response is the label's best."""
    keep = (
        (votes.top >= 0) & (votes.top == label_top[votes.item])
        & ~np.isnan(votes.strength) & (votes.strength != 0)
    )  # fmt: skip
    item, value = votes.item[keep], votes.strength[keep]
    order = np.lexsort((value, item))
    item, value = item[order], value[order]
    out = np.full(len(label_top), np.nan)
    if not len(item):
        return out
    found, first, count = np.unique(item, return_index=True, return_counts=True)
    low, high = value[first + (count - 1) // 2], value[first + count // 2]
    out[found] = np.where(count % 2 == 1, low, (low + high) / 2)
    return out


def _agreeing(count: int, share: float) -> str:
    unanimous = count >= 2 and share == 1.0
    return UNANIMOUS if unanimous else MAJORITY


def label_sprint(
    data: SprintVotes,
    shape: RubricShape,
    method: str,
    fits: dict[int, DawidSkeneParams],
    adjudicated: set[int],
) -> tuple[list[dict], dict]:
    """Label rows of every item with a vote and two or more responses that is not adjudicated,
    and the counts ``items``, ``adjudicated``, ``undecided``. Pure: reads and writes nothing."""
    votes = votes_of(data)
    has_votes = votes.count > 0
    kept = np.array([item_id in adjudicated for item_id in data.item_ids.tolist()], dtype=bool)
    candidates = np.flatnonzero(has_votes & (data.size >= 2) & ~kept)
    counts = {
        "items": int(has_votes.sum()),
        "adjudicated": int((has_votes & kept).sum()),
    }
    majority, held = _majority(data, votes)
    size = data.size[candidates]
    bt_mask = (
        np.ones(len(candidates), dtype=bool)
        if method == ConsensusMethod.BRADLEY_TERRY
        else (size > 2)
        if method == AUTO
        else np.zeros(len(candidates), dtype=bool)
    )
    bt = _bradley_terry(data, votes, candidates[bt_mask]) if bt_mask.any() else {}
    model: dict[int, tuple[str, float]] = {}
    if method in (AUTO, ConsensusMethod.DAWID_SKENE):
        ds_places = candidates[~bt_mask]
        for width in np.unique(data.size[ds_places]).tolist():
            wanted = ds_places[data.size[ds_places] == width]
            fit = fits.get(width) or DawidSkeneParams.uninformed()
            best, confidence = _posteriors(data, votes, fit, wanted)
            found = zip(wanted.tolist(), best.tolist(), confidence.tolist(), strict=True)
            for place, label, value in found:
                model[place] = (fit.classes[label], value)
    labels: dict[int, tuple[str, str, float]] = {}
    undecided = 0
    method = str(method)
    vote_count, majority_code, held_count = (votes.count.tolist(), majority.tolist(), held.tolist())
    for place in candidates.tolist():
        count, code = vote_count[place], majority_code[place]
        share = held_count[place] / count if code >= 0 else 0.0
        major = data.classes[code] if code >= 0 else None
        if method == UNANIMOUS:
            decided = (major, method, 1.0) if count >= 2 and share == 1.0 else None
        elif method == MAJORITY:
            decided = (major, method, share) if major is not None else None
        elif place in bt:
            if method == AUTO and major == TIE:
                decided = (TIE, _agreeing(count, share), share)
            else:
                ranking, confidence = bt[place]
                label = vote_class(data.keys[place], ranking)
                found = BRADLEY_TERRY
                if method == AUTO and major == label:
                    found = _agreeing(count, share)
                decided = (label, found, confidence)
        else:
            label, confidence = model[place]
            found = DAWID_SKENE
            if method == AUTO and major == label:
                found = _agreeing(count, share)
            decided = (label, found, confidence)
        if decided is None:
            undecided += 1
        else:
            labels[place] = decided
    counts["undecided"] = undecided
    return _rows(data, votes, shape, labels), counts


def _rows(data: SprintVotes, votes: Votes, shape: RubricShape, labels: dict) -> list[dict]:
    label_top = np.full(len(data.item_ids), -1, dtype=np.int64)
    for place, (label, _, _) in labels.items():
        if label != TIE:
            label_top[place] = int(label.split(">", 1)[0])
    return label_rows(data, shape, labels, _strengths(votes, label_top), _agreement(data, votes))
