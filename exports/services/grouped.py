"""The ``grouped`` form of a preference export, and its way back to pairs.

A grouped row holds one prompt with its best response in ``chosen`` and every lower-ranked
response in ``rejected`` (a list, best first), with ``margin`` a list aligned with it: the row
of an item ranked a > b > c is ``chosen`` a, ``rejected`` [b, c], ``margin`` [m(a,b), m(a,c)].
It is for trainers that take several rejected answers per prompt. Trainers that take one
(TRL's ``RewardTrainer`` and ``DPOTrainer``, Concord's own reward-model training) read it
through :func:`expand_grouped_rows`, which gives back one row per (chosen, rejected) pair with
the other columns unchanged (:func:`expand_grouped_batch` is the same for
``datasets.Dataset.map(expand_grouped_batch, batched=True)``).

Nothing here touches the database or Django, so a training script can import it on its own.
"""

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any

Row = dict[str, Any]


def is_grouped_row(row: Mapping[str, Any]) -> bool:
    """A row of the grouped form: ``rejected`` is a list of texts. (A conversational row's
    ``rejected`` is a list too, of chat messages, which are dicts: not grouped.)"""
    rejected = row.get("rejected")
    return isinstance(rejected, list) and all(isinstance(text, str) for text in rejected)


def expand_grouped_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[Row]:
    """One row per (chosen, rejected) pair of each grouped row, in the row's order, with its
    own ``margin`` (the aligned entry; 0.0 where the list is short or missing) and every other
    column copied; a row that is not grouped (standard or conversational) is passed on as it
    is, so a file of any form can go through. A grouped row with an empty ``rejected`` gives
    nothing."""
    for row in rows:
        if not is_grouped_row(row):
            yield dict(row)
            continue
        margins = row.get("margin")
        margins = margins if isinstance(margins, list) else []
        for index, rejected in enumerate(row["rejected"]):
            margin = margins[index] if index < len(margins) else 0.0
            yield {**row, "rejected": rejected, "margin": 0.0 if margin is None else margin}


def group_adjacent_pairs(pairs: Iterable[Row], key: Callable[[Row], Hashable]) -> Iterator[Row]:
    """Pair rows (one ``rejected`` and one ``margin`` each) merged into grouped rows: each run
    of consecutive rows with the same ``key`` becomes one row, the first's columns with
    ``rejected`` and ``margin`` the run's, in order. Holds one run in memory."""
    current: Row | None = None
    current_key: Hashable = None
    for pair in pairs:
        pair_key = key(pair)
        if current is not None and pair_key == current_key:
            current["rejected"].append(pair["rejected"])
            current["margin"].append(pair["margin"])
            continue
        if current is not None:
            yield current
        current = {**pair, "rejected": [pair["rejected"]], "margin": [pair["margin"]]}
        current_key = pair_key
    if current is not None:
        yield current


def expand_grouped_batch(batch: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """:func:`expand_grouped_rows` for a batch of columns, as Hugging Face ``datasets`` hands
    them to ``Dataset.map(expand_grouped_batch, batched=True)``: the same columns, one entry
    per pair."""
    names = list(batch)
    size = len(batch[names[0]]) if names else 0
    rows = ({name: batch[name][index] for name in names} for index in range(size))
    out: dict[str, list[Any]] = {name: [] for name in names}
    for row in expand_grouped_rows(rows):
        for name in names:
            out[name].append(row[name])
    return out
