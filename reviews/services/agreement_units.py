"""A sprint's live judgments laid out as per-criterion (unit, value) answers for agreement.

:mod:`reviews.services.agreement_rows` reads one row per (judgment, response of its item); here
the rows become numpy arrays, and every criterion's answers are built from them with array
operations whose cost follows the rows, never the number of distinct response keys.

Units of analysis, by criterion kind (see :mod:`reviews.services.agreement`):

- ``preference``: one unit per (item, pair of its responses); the value says which of the two
  ranks higher, or tie. For two responses this is the winner or tie, for N > 2 the pairwise
  comparison of rankings. "First" of a pair is the response whose key sorts first.
- strength (of a preference with ``strength_labels``), reported as ``<name>.strength``: one unit
  per item of exactly two responses, on the signed scale +s when the first response by key
  order wins, -s when the other does, 0 for a tie; ordinal.
- ``likert``: one unit per (item, response), the score; ordinal unless the criterion's config
  says ``"level": "nominal" | "interval" | "ratio"``.
- ``flag``: one unit per (item, response), true or false, nominal; a judgment that leaves a
  response out (or the whole flag) says false.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from annotation.models import Criterion, CriterionKind, Sprint
from reviews.services.agreement_alpha import dense_codes
from reviews.services.agreement_rows import read_rows

TIE, FIRST_WINS, SECOND_WINS = 0, 1, -1
# Pairs of responses built at once per block of judgments of the same size: bounds the memory
# an item of many responses takes (N responses make N(N-1)/2 pairs per judgment).
PAIRS_PER_BLOCK = 1 << 22


@dataclass
class CriterionAnswers:
    """The answers to one criterion: entry ``i`` says judgment row ``rows[i]`` gave unit
    ``units[i]`` the value ``domain[values[i]]``."""

    name: str
    level: str
    domain: np.ndarray
    rows: np.ndarray
    units: np.ndarray
    values: np.ndarray


@dataclass
class SprintJudgments:
    """The live judgments of a sprint as arrays: per judgment row (``item_ids`` …
    ``strength``), and per (row, response) entry, the entries of a row next to each other and
    rows in order (``entry_row``, ``entry_key`` into ``keys``, ``entry_place`` in the row's
    ranking, -1 when unranked)."""

    item_ids: np.ndarray
    # Items numbered 0..items-1 in id order, per row.
    item_index: np.ndarray
    annotator_ids: np.ndarray
    seconds: np.ndarray
    tie: np.ndarray
    strength: np.ndarray
    keys: list[str]
    entry_row: np.ndarray
    entry_key: np.ndarray
    entry_place: np.ndarray
    criteria: list[CriterionAnswers] = field(default_factory=list)
    # Set when entry_key is a rank among the row's own item's keys (agreement records).
    item_keys: Callable[[int], list[str]] | None = None

    @property
    def count(self) -> int:
        return len(self.item_ids)

    def distinct_items(self, rows: np.ndarray | None = None) -> int:
        index = self.item_index if rows is None else self.item_index[rows]
        return int(np.count_nonzero(np.bincount(index))) if len(index) else 0

    def ranking(self, row: int) -> list[str]:
        """The response keys row ``row`` ranked, best first (empty for a tie)."""
        start, stop = np.searchsorted(self.entry_row, [row, row + 1])
        places = self.entry_place[start:stop]
        ranked = places >= 0
        order = np.argsort(places[ranked], kind="stable")
        codes = self.entry_key[start:stop][ranked][order].tolist()
        keys = self.keys if self.item_keys is None else self.item_keys(int(self.item_ids[row]))
        return [keys[key] for key in codes]


@dataclass
class _Blocks:
    """The entries of each row as one block (where it starts, its size, its row), and per
    entry the unit of its (item, response): ``item * keys + key``, which is the same for
    every row of the item whatever order the row lists its responses in."""

    starts: np.ndarray
    sizes: np.ndarray
    rows: np.ndarray
    response_units: np.ndarray


def load_judgments(sprint: Sprint, until: datetime | None = None) -> SprintJudgments:
    """Read the live judgments of ``sprint`` (as at ``until``) and split them into
    per-criterion answers, in criterion order (a preference's strength right after it)."""
    rows, criteria = read_rows(sprint, until)
    judgments = SprintJudgments(
        item_ids=rows.item,
        item_index=dense_codes(rows.item)[0],
        annotator_ids=rows.annotator,
        seconds=rows.seconds,
        tie=rows.tie,
        strength=rows.strength,
        keys=rows.keys,
        entry_row=rows.entry_row,
        entry_key=rows.entry_key,
        entry_place=rows.entry_place,
        item_keys=rows.item_keys,
    )
    blocks = _blocks(judgments)
    for criterion in criteria:
        if criterion.kind == CriterionKind.PREFERENCE:
            judgments.criteria.append(_preference(criterion, judgments, blocks))
            strength = _strength(criterion, judgments, blocks)
            if strength is not None:
                judgments.criteria.append(strength)
        elif criterion.kind == CriterionKind.LIKERT:
            judgments.criteria.append(
                _likert(criterion, judgments, blocks, rows.answers[f"score_{criterion.pk}"])
            )
        elif criterion.kind == CriterionKind.FLAG:
            judgments.criteria.append(
                _flag(criterion, judgments, blocks, rows.answers[f"flag_{criterion.pk}"])
            )
    return judgments


def _blocks(judgments: SprintJudgments) -> _Blocks:
    entry_row = judgments.entry_row
    total = len(entry_row)
    starts = np.flatnonzero(np.r_[True, entry_row[1:] != entry_row[:-1]]) if total else entry_row
    sizes = np.diff(np.r_[starts, total])
    width = max(len(judgments.keys), 1)
    return _Blocks(
        starts=starts,
        sizes=sizes,
        rows=entry_row[starts],
        response_units=judgments.item_index[entry_row] * width + judgments.entry_key,
    )


def _preference(
    criterion: Criterion, judgments: SprintJudgments, blocks: _Blocks
) -> CriterionAnswers:
    """Every pair of a row's entries; the unit is (item, first key, second key), numbered
    ``response unit of the first * keys + second key``, refolded through a dense numbering of
    the first where that product could overflow."""
    rows, units, values = [], [], []
    width = max(len(judgments.keys), 1)
    dense = _fits(int(blocks.response_units.max(initial=0)) + 1, width)
    first_units = blocks.response_units if dense else pd.factorize(blocks.response_units)[0]
    place, key = judgments.entry_place, judgments.entry_key
    for size in np.unique(blocks.sizes[blocks.sizes >= 2]).tolist():
        one, other = np.triu_indices(size, 1)
        chosen = np.flatnonzero(blocks.sizes == size)
        step = max(1, PAIRS_PER_BLOCK // len(one))
        for begin in range(0, len(chosen), step):
            block = chosen[begin : begin + step]
            starts, row = blocks.starts[block][:, None], blocks.rows[block]
            left, right = starts + one, starts + other
            # "First" of the pair is the response whose key sorts first.
            swap = key[left] > key[right]
            first, second = np.where(swap, right, left), np.where(swap, left, right)
            tie = judgments.tie[row][:, None]
            ranked = (place[first] >= 0) & (place[second] >= 0)
            keep = tie | ranked
            wins = np.where(place[first] < place[second], FIRST_WINS, SECOND_WINS)
            value = np.where(tie, TIE, wins)
            unit = first_units[first] * width + key[second]
            rows.append(np.broadcast_to(row[:, None], keep.shape)[keep])
            units.append(unit[keep])
            values.append(value[keep] + 1)
    domain = np.array([SECOND_WINS, TIE, FIRST_WINS])
    return _answers(criterion.name, "nominal", domain, rows, units, values)


def _fits(left: int, right: int) -> bool:
    return left * right < 2**62


def _strength(
    criterion: Criterion, judgments: SprintJudgments, blocks: _Blocks
) -> CriterionAnswers | None:
    scale = len((criterion.config or {}).get("strength_labels", []))
    if not scale or len(judgments.keys) < 2:
        return None
    two = blocks.sizes == 2
    starts, row = blocks.starts[two], blocks.rows[two]
    # The two responses of the row's item in key order; an unranked one has place -1.
    swap = judgments.entry_key[starts] > judgments.entry_key[starts + 1]
    first, second = np.where(swap, starts + 1, starts), np.where(swap, starts, starts + 1)
    one, other = judgments.entry_place[first], judgments.entry_place[second]
    strength = judgments.strength[row]
    signed = np.where(judgments.tie[row], 0, np.where(one < other, strength, -strength))
    kept = ~np.isnan(signed)
    domain = np.arange(-scale, scale + 1)
    values = signed[kept].astype(np.int64) + scale
    return _answers(
        f"{criterion.name}.strength",
        "ordinal",
        domain,
        [row[kept]],
        [judgments.item_index[row[kept]]],
        [values],
    )


def _likert(
    criterion: Criterion, judgments: SprintJudgments, blocks: _Blocks, scores: np.ndarray
) -> CriterionAnswers:
    config = criterion.config or {}
    low, high = config.get("min", 1), config.get("max", 5)
    scored = ~np.isnan(scores)
    if scored.all():
        rows, units, values = judgments.entry_row, blocks.response_units, scores
    else:
        rows, units, values = (
            judgments.entry_row[scored],
            blocks.response_units[scored],
            scores[scored],
        )
    return _answers(
        criterion.name,
        config.get("level", "ordinal"),
        np.arange(low, high + 1),
        [rows],
        [units],
        [values.astype(np.int64) - low],
    )


def _flag(
    criterion: Criterion, judgments: SprintJudgments, blocks: _Blocks, flags: np.ndarray
) -> CriterionAnswers:
    return _answers(
        criterion.name,
        "nominal",
        np.array([0, 1]),
        [judgments.entry_row],
        [blocks.response_units],
        [flags.astype(np.int64)],
    )


def _answers(name, level, domain, rows, units, values) -> CriterionAnswers:
    """The answers of one criterion from parts of (rows, units, values); a value outside the
    domain (a score off a rubric revised since) is left out rather than miscounted."""

    def joined(parts):
        if len(parts) == 1:
            return parts[0].astype(np.int64, copy=False)
        return (
            np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)
        )

    values = joined(values)
    keep = (values >= 0) & (values < len(domain))
    rows, units = joined(rows), joined(units)
    if not keep.all():
        rows, units, values = rows[keep], units[keep], values[keep]
    return CriterionAnswers(
        name=name, level=level, domain=domain, rows=rows, units=units, values=values
    )
